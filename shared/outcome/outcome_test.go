package outcome_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/elbattach/elbattach/shared/outcome"
)

type bus struct{ details []string }

func (b *bus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	for _, e := range in.Entries {
		b.details = append(b.details, aws.ToString(e.Detail))
	}
	return &eventbridge.PutEventsOutput{}, nil
}

type big struct {
	Instance string `json:"instance"`
	Detail   string `json:"detail"`
}

type briefBig struct{ big }

func (b briefBig) Brief() any { return map[string]string{"instance": b.Instance, "truncated": "yes"} }

// TestPutTooLarge: a report too large for an event goes in brief when it can
// say itself so (what happened, and to which instance), else as a mark; a
// report that fits goes whole.
func TestPutTooLarge(t *testing.T) {
	huge := strings.Repeat("x", 300_000)
	for _, tc := range []struct {
		name   string
		report any
		want   map[string]string
	}{
		{"fits", big{Instance: "i-1", Detail: "small"}, map[string]string{"instance": "i-1", "detail": "small"}},
		{"too large, in brief", briefBig{big{Instance: "i-1", Detail: huge}}, map[string]string{"instance": "i-1", "truncated": "yes"}},
		{"too large, no brief", big{Instance: "i-1", Detail: huge}, map[string]string{"truncated": "report too large for an event; see the function's log"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &bus{}
			if err := outcome.Put(context.Background(), b, outcome.AttachFailed, "", tc.report); err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(b.details[0]), &got); err != nil || len(got) != len(tc.want) {
				t.Fatalf("detail %.200s: %v", b.details[0], err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("detail[%q] = %.80q, want %q", k, got[k], v)
				}
			}
		})
	}
}
