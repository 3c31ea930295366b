// Package outcome tells the world what a run did: one CloudWatch Embedded
// Metric Format line on stdout (CloudWatch Logs turns it into metrics), and
// an event on the default EventBridge bus that other automation can follow.
package outcome

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Event source and detail types of the outcome events.
const (
	Source         = "elbattach"
	Attached       = "Instance Attached"
	Detached       = "Instance Detached"
	AttachFailed   = "Attach Failed"
	DetachFailed   = "Detach Failed"
	MetricsNS      = "elbattach"
	maxDetailBytes = 200_000 // PutEvents takes 256 KiB per entry
)

// EventBridge is the part of the EventBridge API outcome uses.
type EventBridge interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ EventBridge = (*eventbridge.Client)(nil)

// Counts are what one run did, for the metrics.
type Counts struct {
	Attached, Detached, SubnetsCreated, RulesAdded, Failures int
	Duration                                                 time.Duration
}

// CountChanges derives the counts from a run's change lines (plan.Step
// strings): "+ create subnet", "+ allow", "+ register", "- deregister".
func CountChanges(changes []string) Counts {
	var c Counts
	for _, l := range changes {
		switch {
		case strings.HasPrefix(l, "+ create subnet"):
			c.SubnetsCreated++
		case strings.HasPrefix(l, "+ allow"):
			c.RulesAdded++
		case strings.HasPrefix(l, "+ register"):
			c.Attached++
		case strings.HasPrefix(l, "- deregister"):
			c.Detached++
		}
	}
	return c
}

// WriteEMF writes one Embedded Metric Format record for function.
func WriteEMF(w io.Writer, function string, c Counts, now time.Time) error {
	names := []string{"Attached", "Detached", "SubnetsCreated", "RulesAdded", "Failures", "Duration"}
	metrics := make([]map[string]string, 0, len(names))
	for _, n := range names {
		unit := "Count"
		if n == "Duration" {
			unit = "Milliseconds"
		}
		metrics = append(metrics, map[string]string{"Name": n, "Unit": unit})
	}
	rec := map[string]any{
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace": MetricsNS, "Dimensions": [][]string{{"Function"}}, "Metrics": metrics,
			}},
		},
		"Function": function, "Attached": c.Attached, "Detached": c.Detached, "SubnetsCreated": c.SubnetsCreated,
		"RulesAdded": c.RulesAdded, "Failures": c.Failures, "Duration": c.Duration.Milliseconds(),
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Briefer is a report that can say itself in brief (what happened, without
// the per-target detail), for an event the whole report would make too large.
type Briefer interface{ Brief() any }

// truncatedNote is what a detail holds that is too large even in brief.
const truncatedNote = "report too large for an event; see the function's log"

// Put sends one outcome event with the report as its detail: the report
// itself, else its Brief (marked "truncated"), else only that mark.
func Put(ctx context.Context, eb EventBridge, detailType, instanceARN string, report any) error {
	detail, err := json.Marshal(report)
	if err != nil {
		return fmt.Errorf("encoding outcome, %w", err)
	}
	if b, ok := report.(Briefer); ok && len(detail) > maxDetailBytes {
		detail, _ = json.Marshal(b.Brief())
	}
	if len(detail) > maxDetailBytes {
		detail, _ = json.Marshal(map[string]string{"truncated": truncatedNote})
	}
	entry := ebtypes.PutEventsRequestEntry{Source: aws.String(Source), DetailType: aws.String(detailType), Detail: aws.String(string(detail))}
	if instanceARN != "" {
		entry.Resources = []string{instanceARN}
	}
	out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{entry}})
	if err != nil {
		return fmt.Errorf("putting outcome event, %w", err)
	}
	if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
		return fmt.Errorf("putting outcome event: %s %s", aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage))
	}
	return nil
}
