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
//     launch or tag event), then the others, each part in a random order, so
//     that runs reach every instance however many there are.
//   - It deregisters every instance that is no longer running from each
//     instance target group and Classic ELB elbattach manages that still
//     holds it, whatever its tag names now (a missed stop event, or a tag
//     changed while the instance was stopped). ip target groups name
//     addresses, not instances: a stopped instance's address is not looked
//     for there.
//   - When the managed targets cannot be read, it still attaches (in a
//     random order) and returns that error: no detach this run.
//   - A running instance registered in a managed target without the tag is
//     left alone (an operator may have put it there) and reported.
func (p *Pipeline) Reconcile(ctx context.Context, max int, dryRun bool) (ReconcileReport, error) {
	// No WAIT_HEALTHY_SECONDS here: one instance's wait would take the time
	// the others (and the detaches) need; the sweep reads health once.
	np := *p
	np.Config.WaitHealthy = 0
	p = &np
	rr := ReconcileReport{DryRun: dryRun || p.Config.DryRun, Changes: []string{}, Warnings: []string{}}
	// The registrations first: an instance that turns running and gets
	// registered between the two reads is then in the tagged list, not
	// taken for one registered without the tag.
	registered, addresses, sweepErr := p.managedRegistrations(ctx)
	tagged, err := p.Observer.TaggedInstances(ctx, p.Config.TagKey)
	if err != nil {
		return rr, errors.Join(err, sweepErr)
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
		if len(registered[in.ID]) == 0 && !addresses[in.PrivateIP] {
			first = append(first, in.ID)
		} else {
			rest = append(rest, in.ID)
		}
	}
	todo := reconcileOrder(first, rest, max)
	rr.Instances, rr.Truncated = len(todo), len(tagged) > max
	for _, id := range todo {
		add(p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, DryRun: dryRun, Origin: "reconcile"}))
	}
	if sweepErr != nil {
		return rr, errors.Join(append(errs, sweepErr)...)
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

// reconcileOrder picks at most max of the instances, each part in a random
// order: first those registered nowhere (likely missed events), but half the
// places, when there are enough, for the others (an odd place to either, at
// random), so that an instance whose attach fails every run (registered
// nowhere for good) cannot keep the others from ever being reached.
func reconcileOrder(first, rest []string, max int) []string {
	for _, part := range [][]string{first, rest} {
		rand.Shuffle(len(part), func(i, j int) { part[i], part[j] = part[j], part[i] })
	}
	share := max / 2
	if max%2 == 1 && rand.IntN(2) == 0 {
		share++
	}
	nFirst := min(len(first), max-min(len(rest), share))
	return append(slices.Clone(first[:nFirst]), rest[:min(len(rest), max-nFirst)]...)
}

// managedRegistrations maps each instance registered in a target elbattach
// manages (instance target groups, Classic ELBs) to those targets, and gives
// the addresses registered in its ip target groups.
func (p *Pipeline) managedRegistrations(ctx context.Context) (map[string][]observe.Managed, map[string]bool, error) {
	groups, err := p.Observer.ManagedGroups(ctx, "", p.Config)
	if err != nil {
		return nil, nil, err
	}
	classics, err := p.Observer.ManagedClassics(ctx, p.Config)
	if err != nil {
		return nil, nil, err
	}
	out, addresses := map[string][]observe.Managed{}, map[string]bool{}
	for _, g := range groups {
		if g.TargetType != "instance" {
			for _, reg := range g.Registrations {
				addresses[reg.ID] = true
			}
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
	return out, addresses, nil
}

// detachFrom deregisters an instance that is no longer running from the
// managed targets that still hold it.
func (p *Pipeline) detachFrom(ctx context.Context, in state.Instance, targets []observe.Managed, dryRun bool) (Report, error) {
	r := Report{Instance: in.ID, Action: event.Detach, Origin: "reconcile", DryRun: dryRun, Changes: []string{}, Warnings: []string{}}
	err := p.detachEach(ctx, in, targets, &r, nil, fmt.Sprintf("%s is %s", in.ID, in.State))
	for _, tr := range r.Targets {
		r.Changes = append(r.Changes, tr.Changes...)
		r.Warnings = append(r.Warnings, tr.Warnings...)
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r, err
}
