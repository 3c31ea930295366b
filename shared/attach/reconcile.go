package attach

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/elbattach/elbattach/shared/event"
)

// DefaultReconcileMax bounds the instances one reconcile run attaches, so a
// run fits in the function's time; the next run goes on from the rest.
const DefaultReconcileMax = 100

// ReconcileReport sums up a sweep.
type ReconcileReport struct {
	DryRun    bool     `json:"dry-run"`
	Instances int      `json:"instances"`
	Truncated bool     `json:"truncated,omitempty"`
	Changes   []string `json:"changes"`
	Warnings  []string `json:"warnings"`
	Failures  []string `json:"failures,omitempty"`
	Reports   []Report `json:"reports,omitempty"` // only the runs that changed or failed
}

// Reconcile catches missed events and drift: it attaches every running
// instance that carries the target tag (at most max), and detaches every
// instance registered in a target elbattach manages that is no longer
// running. An instance registered without the tag is left alone (an
// operator may have put it there) and reported.
func (p *Pipeline) Reconcile(ctx context.Context, max int, dryRun bool) (ReconcileReport, error) {
	rr := ReconcileReport{DryRun: dryRun || p.Config.DryRun, Changes: []string{}, Warnings: []string{}}
	tagged, truncated, err := p.Observer.TaggedInstances(ctx, p.Config.TagKey, max)
	if err != nil {
		return rr, err
	}
	rr.Instances, rr.Truncated = len(tagged), truncated
	var errs []error
	run := func(t event.Trigger) {
		r, err := p.Run(ctx, t)
		if err != nil {
			errs = append(errs, err)
			rr.Failures = append(rr.Failures, fmt.Sprintf("%s: %v", t.InstanceID, err))
		}
		rr.Changes = append(rr.Changes, r.Changes...)
		rr.Warnings = append(rr.Warnings, r.Warnings...)
		if len(r.Changes) > 0 || err != nil {
			rr.Reports = append(rr.Reports, r)
		}
	}
	running := map[string]bool{}
	for _, in := range tagged {
		running[in.ID] = true
		run(event.Trigger{InstanceID: in.ID, Action: event.Attach, DryRun: dryRun, Origin: "reconcile"})
	}
	groups, err := p.Observer.ManagedGroups(ctx, "", p.Config)
	if err != nil {
		return rr, errors.Join(append(errs, err)...)
	}
	var others []string
	for _, g := range groups {
		for _, reg := range g.Registrations {
			if g.TargetType == "instance" && !running[reg.ID] && !slices.Contains(others, reg.ID) {
				others = append(others, reg.ID)
			}
		}
	}
	states, err := p.Observer.InstanceStates(ctx, others)
	if err != nil {
		return rr, errors.Join(append(errs, err)...)
	}
	for _, id := range others {
		switch st := states[id]; st {
		case "running", "pending":
			if rr.Truncated {
				continue // maybe tagged among the instances this run did not reach
			}
			rr.Warnings = append(rr.Warnings, fmt.Sprintf("%s is registered in a managed target without the %s tag: left alone", id, p.Config.TagKey))
		case "":
			// gone: AWS deregisters terminated instances itself
		default:
			run(event.Trigger{InstanceID: id, Action: event.Detach, DryRun: dryRun, Origin: "reconcile"})
		}
	}
	return rr, errors.Join(errs...)
}
