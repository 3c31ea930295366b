package attach

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/state"
)

// DefaultReconcileMax bounds the instances one reconcile run attaches, so a
// run fits in the function's time; later runs reach the rest (Reconcile).
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

// Reconcile catches missed events and drift:
//   - It attaches the running instances that carry the target tag, at most
//     max: first those registered in no target elbattach manages (a missed
//     launch or tag event), then the others in a random order, so that runs
//     reach every instance however many there are.
//   - It deregisters every instance that is no longer running from each
//     target elbattach manages (target groups and Classic ELBs) that still
//     holds it, whatever its tag names now (a missed stop event, or a tag
//     changed while the instance was stopped).
//   - A running instance registered in a managed target without the tag is
//     left alone (an operator may have put it there) and reported.
func (p *Pipeline) Reconcile(ctx context.Context, max int, dryRun bool) (ReconcileReport, error) {
	rr := ReconcileReport{DryRun: dryRun || p.Config.DryRun, Changes: []string{}, Warnings: []string{}}
	registered, err := p.managedRegistrations(ctx)
	if err != nil {
		return rr, err
	}
	tagged, err := p.Observer.TaggedInstances(ctx, p.Config.TagKey)
	if err != nil {
		return rr, err
	}
	var errs []error
	add := func(r Report, err error) {
		if err != nil {
			errs = append(errs, err)
			rr.Failures = append(rr.Failures, fmt.Sprintf("%s: %v", r.Instance, err))
		}
		rr.Changes = append(rr.Changes, r.Changes...)
		rr.Warnings = append(rr.Warnings, r.Warnings...)
		if len(r.Changes) > 0 || err != nil {
			rr.Reports = append(rr.Reports, r)
		}
	}
	running := map[string]bool{}
	var first, rest []string
	for _, in := range tagged {
		running[in.ID] = true
		if len(registered[in.ID]) == 0 {
			first = append(first, in.ID)
		} else {
			rest = append(rest, in.ID)
		}
	}
	rand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	todo := append(first, rest...)
	rr.Instances, rr.Truncated = min(len(todo), max), len(todo) > max
	for _, id := range todo[:rr.Instances] {
		add(p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, DryRun: dryRun, Origin: "reconcile"}))
	}
	var others []string
	for _, id := range slices.Sorted(maps.Keys(registered)) {
		if !running[id] {
			others = append(others, id)
		}
	}
	states, err := p.Observer.InstanceStates(ctx, others)
	if err != nil {
		return rr, errors.Join(append(errs, err)...)
	}
	for _, id := range others {
		switch st := states[id]; st {
		case "running":
			rr.Warnings = append(rr.Warnings, fmt.Sprintf("%s is registered in a managed target without the %s tag: left alone", id, p.Config.TagKey))
		case "pending", "":
			// starting again (its running event follows), or gone (AWS
			// deregisters terminated instances itself)
		default:
			add(p.detachFrom(ctx, state.Instance{ID: id, State: st}, registered[id], rr.DryRun))
		}
	}
	return rr, errors.Join(errs...)
}

// managedRegistrations maps each instance registered in a target elbattach
// manages (instance target groups, Classic ELBs) to those targets.
func (p *Pipeline) managedRegistrations(ctx context.Context) (map[string][]observe.Managed, error) {
	groups, err := p.Observer.ManagedGroups(ctx, "", p.Config)
	if err != nil {
		return nil, err
	}
	classics, err := p.Observer.ManagedClassics(ctx, p.Config)
	if err != nil {
		return nil, err
	}
	out := map[string][]observe.Managed{}
	for _, g := range groups {
		if g.TargetType != "instance" {
			continue
		}
		classics = append(classics, observe.Managed{Target: g})
	}
	for _, m := range classics {
		for _, reg := range m.Target.Registrations {
			if !slices.ContainsFunc(out[reg.ID], func(o observe.Managed) bool { return o.Target.ARN == m.Target.ARN && o.Target.Name == m.Target.Name }) {
				out[reg.ID] = append(out[reg.ID], m)
			}
		}
	}
	return out, nil
}

// detachFrom deregisters an instance that is no longer running from the
// managed targets that still hold it.
func (p *Pipeline) detachFrom(ctx context.Context, in state.Instance, targets []observe.Managed, dryRun bool) (Report, error) {
	r := Report{Instance: in.ID, Action: event.Detach, Origin: "reconcile", DryRun: dryRun, Changes: []string{}, Warnings: []string{}}
	var errs []error
	for _, m := range targets {
		tr, err := p.applyDetach(ctx, in, m.Target, m.LoadBalancer, dryRun, nil)
		tr.Notes = append(tr.Notes, fmt.Sprintf("%s is %s", in.ID, in.State))
		if err != nil {
			tr.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", m.Target.Name, err))
		}
		r.Targets = append(r.Targets, tr)
		r.Changes = append(r.Changes, tr.Changes...)
		r.Warnings = append(r.Warnings, tr.Warnings...)
	}
	err := errors.Join(errs...)
	if err != nil {
		r.Error = err.Error()
	}
	return r, err
}
