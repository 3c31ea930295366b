// Package attach is the pipeline the handlers call: for one trigger it reads
// the instance, then for each target its tag names: observe -> plan -> apply
// (or, in dry-run, report the plan), and returns a Report.
package attach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/plan"
	"github.com/elbattach/elbattach/shared/state"
)

// maxRounds bounds observe-plan-apply rounds for one target when AWS changes
// under the plan (a concurrent run won a subnet race, say). Each round makes
// progress or adopts another run's work, so a few suffice.
const maxRounds = 6

// ErrForeignRegion refuses an event or target ARN from another region.
var ErrForeignRegion = errors.New("resource in another region")

// Pipeline runs triggers.
type Pipeline struct {
	Config   config.Config
	Region   string
	Observer *observe.Observer
	Applier  *apply.Applier
	Log      *slog.Logger
}

// Report says what a run did, or in dry-run would do.
type Report struct {
	Instance string         `json:"instance"`
	Action   event.Action   `json:"action"`
	Origin   string         `json:"origin"`
	DryRun   bool           `json:"dry-run"`
	Target   string         `json:"target,omitempty"` // the tag value
	Skipped  string         `json:"skipped,omitempty"`
	Changes  []string       `json:"changes"`
	Warnings []string       `json:"warnings"`
	Targets  []TargetReport `json:"targets,omitempty"`
	Error    string         `json:"error,omitempty"`
	// Calls counts the AWS API calls the run made, per operation.
	Calls map[string]int `json:"aws-calls,omitempty"`
}

// TargetReport is the outcome for one target.
type TargetReport struct {
	Target       string     `json:"target"`
	LoadBalancer string     `json:"load-balancer,omitempty"`
	Changes      []string   `json:"changes"`
	Notes        []string   `json:"notes,omitempty"`
	Warnings     []string   `json:"warnings,omitempty"`
	Plan         *plan.Plan `json:"plan,omitempty"` // dry-run only
	Error        string     `json:"error,omitempty"`
}

// Run carries out one trigger. The report is always returned; err is non-nil
// when any part failed, so that Lambda's retry and failure destination see it.
func (p *Pipeline) Run(ctx context.Context, t event.Trigger) (Report, error) {
	r := Report{Instance: t.InstanceID, Action: t.Action, Origin: t.Origin, DryRun: t.DryRun || p.Config.DryRun,
		Changes: []string{}, Warnings: []string{}}
	err := p.run(ctx, t, &r)
	if err != nil {
		r.Error = err.Error()
	}
	return r, err
}

func (p *Pipeline) run(ctx context.Context, t event.Trigger, r *Report) error {
	if t.Action == event.Ignore {
		r.Skipped = t.Reason
		return nil
	}
	if t.Region != "" && p.Region != "" && t.Region != p.Region {
		return fmt.Errorf("%w: the event is from %s, this function runs in %s", ErrForeignRegion, t.Region, p.Region)
	}
	in, err := p.Observer.Instance(ctx, t.InstanceID)
	if err != nil {
		return err
	}
	value, tagged := in.Tags[p.Config.TagKey]
	if !tagged {
		r.Skipped = fmt.Sprintf("instance %s has no tag %s", in.ID, p.Config.TagKey)
		return nil
	}
	r.Target = value
	refs, err := state.ParseRefs(value)
	if err != nil {
		return fmt.Errorf("tag %s of %s: %w", p.Config.TagKey, in.ID, err)
	}
	switch t.Action {
	case event.Attach:
	default:
		return fmt.Errorf("%w: action %s is not implemented yet", plan.ErrUnsupported, t.Action)
	}
	var errs []error
	for _, ref := range refs {
		tr, err := p.attachOne(ctx, in, ref, r.DryRun)
		if err != nil {
			tr.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", ref, err))
		}
		r.Targets = append(r.Targets, tr)
		r.Changes = append(r.Changes, tr.Changes...)
		r.Warnings = append(r.Warnings, tr.Warnings...)
	}
	return errors.Join(errs...)
}

// attachOne runs observe -> plan -> apply for one target, going round again
// when apply finds that AWS changed under the plan.
func (p *Pipeline) attachOne(ctx context.Context, in state.Instance, ref state.Ref, dryRun bool) (TargetReport, error) {
	tr := TargetReport{Target: ref.Raw, Changes: []string{}}
	if ref.Classic {
		return tr, fmt.Errorf("%w: Classic Load Balancer targets are not implemented yet", plan.ErrUnsupported)
	}
	if ref.Region != "" && p.Region != "" && ref.Region != p.Region {
		return tr, fmt.Errorf("%w: %s is in %s, this function runs in %s", ErrForeignRegion, ref.ARN, ref.Region, p.Region)
	}
	for round := 1; ; round++ {
		s, err := p.Observer.Observe(ctx, in, ref)
		if err != nil {
			return tr, err
		}
		tr.LoadBalancer = s.LoadBalancer.Name
		pl, err := plan.Build(s, p.Config)
		tr.Notes, tr.Warnings = pl.Notes, pl.Warnings
		if err != nil {
			return tr, err
		}
		if dryRun {
			tr.Plan, tr.Changes = &pl, pl.Lines()
			return tr, nil
		}
		done, err := p.Applier.Run(ctx, pl)
		tr.Changes = append(tr.Changes, done...)
		if errors.Is(err, apply.ErrStale) && round < maxRounds {
			p.Log.Info("state changed while applying; observing again", "instance", in.ID, "target", ref.Raw, "round", round, "reason", err.Error())
			continue
		}
		return tr, err
	}
}

// LogReport writes the run's one summary line.
func (p *Pipeline) LogReport(r Report, err error) {
	attrs := []any{"instance", r.Instance, "action", r.Action, "origin", r.Origin, "dry_run", r.DryRun,
		"target", r.Target, "changes", r.Changes, "warnings", r.Warnings, "aws_calls", r.Calls}
	switch {
	case err != nil:
		p.Log.Error("elbattach run failed", append(attrs, "error", err.Error(), "permanent", plan.Permanent(err))...)
	case r.Skipped != "":
		p.Log.Info("elbattach run skipped", append(attrs, "skipped", r.Skipped)...)
	default:
		p.Log.Info("elbattach run done", append(attrs, "summary", strings.Join(r.Changes, "; "))...)
	}
}
