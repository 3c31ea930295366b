// Package attach is the pipeline the handlers call: for one trigger it reads
// the instance, then for each target its tag names: observe -> plan -> apply
// (or, in dry-run, report the plan), and returns a Report. Detach and
// diagnose go the same way with their own plans.
package attach

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

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

// ErrNotReady is retryable: the instance is not running yet.
var ErrNotReady = errors.New("instance not ready")

// Pipeline runs triggers.
type Pipeline struct {
	Config   config.Config
	Region   string
	Observer *observe.Observer
	Applier  *apply.Applier
	// Lifecycle completes lifecycle actions (the lifecycle function only).
	Lifecycle LifecycleActions
	// PollEvery overrides how often health and drain waits read the target
	// (default pollEvery; tests shorten it).
	PollEvery time.Duration
	Log       *slog.Logger
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
	// Lifecycle says how an Auto Scaling lifecycle action was completed.
	Lifecycle *LifecycleOutcome `json:"lifecycle,omitempty"`
}

// Brief is the report without its per-target detail, for an outcome event
// the whole report would make too large (outcome.Briefer).
func (r Report) Brief() any {
	return struct {
		Instance  string            `json:"instance"`
		Action    event.Action      `json:"action"`
		Origin    string            `json:"origin"`
		DryRun    bool              `json:"dry-run"`
		Target    string            `json:"target,omitempty"`
		Changes   []string          `json:"changes"`
		Warnings  []string          `json:"warnings"`
		Error     string            `json:"error,omitempty"`
		Lifecycle *LifecycleOutcome `json:"lifecycle,omitempty"`
		Truncated string            `json:"truncated"`
	}{r.Instance, r.Action, r.Origin, r.DryRun, r.Target, r.Changes, r.Warnings, r.Error, r.Lifecycle,
		"the per-target detail was too large for an event; see the function's log"}
}

// TargetReport is the outcome for one target.
type TargetReport struct {
	Target       string       `json:"target"`
	LoadBalancer string       `json:"load-balancer,omitempty"`
	Changes      []string     `json:"changes"`
	Notes        []string     `json:"notes,omitempty"`
	Warnings     []string     `json:"warnings,omitempty"`
	Plan         *plan.Plan   `json:"plan,omitempty"`      // dry-run and diagnose
	Diagnosis    []plan.Check `json:"diagnosis,omitempty"` // diagnose, or an unhealthy target after the wait
	Health       string       `json:"health,omitempty"`    // the target's state after attach
	Drain        string       `json:"drain,omitempty"`     // how long a lifecycle detach waited for draining
	Error        string       `json:"error,omitempty"`
}

// Run carries out one trigger. The report is always returned; err is non-nil
// when any part failed, so that Lambda's retry and failure destination see it.
func (p *Pipeline) Run(ctx context.Context, t event.Trigger) (Report, error) {
	r := Report{Instance: t.InstanceID, Action: t.Action, Origin: t.Origin, DryRun: t.DryRun || p.Config.DryRun,
		Changes: []string{}, Warnings: []string{}}
	if t.Action == event.Diagnose {
		r.DryRun = true
	}
	err := p.run(ctx, t, &r)
	for _, tr := range r.Targets {
		r.Changes = append(r.Changes, tr.Changes...)
		r.Warnings = append(r.Warnings, tr.Warnings...)
	}
	if err != nil {
		r.Error = err.Error()
	}
	if t.Lifecycle != nil && !r.DryRun {
		err = p.completeLifecycle(ctx, t, &r, err)
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
	r.Target = value
	if why := staleDetach(t, in, tagged, p.Config.TagKey); why != "" {
		r.Skipped = why
		return nil
	}
	if t.Action == event.Detach && !tagged && strings.HasPrefix(t.Origin, event.SourceEC2+" ") {
		// The state rule matches every instance of the account: sweeping the
		// managed targets for each untagged one that stops would cost pages of
		// calls per event. Registrations a removed tag left are the tag-change
		// run's to remove, and reconcile's when that run failed.
		r.Skipped = fmt.Sprintf("instance %s has no tag %s", in.ID, p.Config.TagKey)
		return nil
	}
	if t.Action == event.Detach && !tagged {
		return p.detachManaged(ctx, in, r, t.Lifecycle)
	}
	if !tagged {
		r.Skipped = fmt.Sprintf("instance %s has no tag %s", in.ID, p.Config.TagKey)
		return nil
	}
	refs, bad, err := state.ParseRefs(value)
	if err != nil {
		return fmt.Errorf("tag %s of %s: %w", p.Config.TagKey, in.ID, err)
	}
	if t.Action == event.Attach && in.State == "pending" && (t.Lifecycle != nil || t.Origin == event.SourceEC2+" running") {
		// A launch action can come before EC2 calls the instance running:
		// retry, and complete the action only once attached. A "running"
		// event read back as pending is EC2's eventual consistency right
		// after launch (a stop and start would send "running" again): an
		// error, which Lambda retries, not a stale event to drop.
		return fmt.Errorf("%w: %s is still pending", ErrNotReady, in.ID)
	}
	if t.Action == event.Attach && in.State != "running" && t.Origin != "manual" {
		// Delivery is unordered: a late "running" (or a tag change) for an
		// instance that is stopping or gone is stale, not an error.
		r.Skipped = fmt.Sprintf("instance %s is %s now; nothing to attach", in.ID, in.State)
		return nil
	}
	var errs []error
	for _, b := range bad { // failed on their own: the others go on
		r.Targets = append(r.Targets, TargetReport{Target: b.Raw, Changes: []string{}, Error: b.Err.Error()})
		errs = append(errs, fmt.Errorf("tag %s of %s: %w", p.Config.TagKey, in.ID, b.Err))
	}
	for _, ref := range refs {
		tr := TargetReport{Target: ref.Raw, Changes: []string{}}
		switch {
		case ref.Region != "" && p.Region != "" && ref.Region != p.Region:
			err = fmt.Errorf("%w: %s is in %s, this function runs in %s", ErrForeignRegion, ref.ARN, ref.Region, p.Region)
		case t.Action == event.Attach:
			tr, err = p.attachOne(ctx, in, ref, r.DryRun)
		case t.Action == event.Detach:
			tr, err = p.detachOne(ctx, in, ref, r.DryRun, t.Lifecycle)
		case t.Action == event.Diagnose:
			tr, err = p.diagnoseOne(ctx, in, ref)
		default:
			err = fmt.Errorf("%w: action %s", plan.ErrUnsupported, t.Action)
		}
		if err != nil {
			tr.Target, tr.Error = ref.Raw, err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", ref, err))
		}
		r.Targets = append(r.Targets, tr)
	}
	switch {
	case t.Action == event.Detach && len(bad) > 0 && t.Origin != "manual":
		// A mistyped element may mean a target the instance is in: a stop
		// or a termination leaves it in none of elbattach's. (A manual
		// detach of a running instance keeps to the targets named.)
		errs = append(errs, p.detachManagedBut(ctx, in, refs, r, t.Lifecycle))
	case t.Action != event.Attach || t.Origin != event.SourceTag:
	case len(bad) > 0:
		// What a mistyped element meant is unknown: deregistering from
		// the targets the tag no longer names could take the instance out
		// of the very one it meant.
		r.Warnings = append(r.Warnings, fmt.Sprintf("tag %s of %s has an element that names no valid target: targets it no longer names are left as they are until it is fixed",
			p.Config.TagKey, in.ID))
	default:
		errs = append(errs, p.detachUnnamed(ctx, in, refs, r))
	}
	return errors.Join(errs...)
}

// detachUnnamed deregisters the instance from the targets elbattach manages
// that its tag no longer names, and from the ports of a named target group
// other than the one the tag names now. A tag change says only what the tag
// holds now, so after a new value (web -> api, web@8080 -> web@9090) the
// instance would stay where it was.
func (p *Pipeline) detachUnnamed(ctx context.Context, in state.Instance, refs []state.Ref, r *Report) error {
	found, err := p.Observer.ManagedTargets(ctx, in, p.Config)
	if err != nil {
		return fmt.Errorf("looking for targets the tag no longer names: %w", err)
	}
	var errs []error
	for _, m := range found {
		why := fmt.Sprintf("tag %s no longer names %s", p.Config.TagKey, m.Target.Name)
		if i := slices.IndexFunc(refs, func(ref state.Ref) bool { return names(ref, m.Target) }); i >= 0 {
			if m.Target.Ref.Classic {
				continue // registered without a port
			}
			port := cmp.Or(refs[i].Port, m.Target.Port)
			m.Target.Registrations = slices.DeleteFunc(slices.Clone(m.Target.Registrations), func(reg state.Registration) bool { return reg.Port == port })
			if !observe.RegisteredIn(m.Target, in) {
				continue
			}
			why = fmt.Sprintf("tag %s names port %d of %s now", p.Config.TagKey, port, m.Target.Name)
		}
		tr, err := p.applyDetach(ctx, in, m.Target, m.LoadBalancer, r.DryRun, nil)
		tr.Notes = append(tr.Notes, why)
		if err != nil {
			tr.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", m.Target.Name, err))
		}
		r.Targets = append(r.Targets, tr)
	}
	return errors.Join(errs...)
}

// names reports whether ref names target t (by name or ARN; a Classic ELB by
// its name).
func names(ref state.Ref, t state.Target) bool {
	if ref.Classic || t.Ref.Classic {
		return ref.Classic && t.Ref.Classic && ref.Name == t.Ref.Name
	}
	return (ref.Name != "" && ref.Name == t.Name) || (ref.ARN != "" && ref.ARN == t.ARN)
}

// attachOne runs observe -> plan -> apply for one target, going round again
// when apply finds that AWS changed under the plan. The checks that need the
// full state (network ACLs, listeners, NAT) run only when there is something
// to change: a steady-state replay stays cheap.
//
// A run that fails forgets what the container cached of the target: a
// retry (or the next event, an operator's fix just made) starts afresh.
func (p *Pipeline) attachOne(ctx context.Context, in state.Instance, ref state.Ref, dryRun bool) (TargetReport, error) {
	tr, err := p.attachRounds(ctx, in, ref, dryRun)
	if err != nil {
		p.Observer.Forget(ref)
	}
	return tr, err
}

func (p *Pipeline) attachRounds(ctx context.Context, in state.Instance, ref state.Ref, dryRun bool) (TargetReport, error) {
	tr := TargetReport{Target: ref.Raw, Changes: []string{}}
	var earlier plan.Plan // the notes and warnings of the rounds that changed something
	for round := 1; ; round++ {
		s, err := p.Observer.Observe(ctx, in, ref, false)
		if err != nil {
			return tr, err
		}
		tr.LoadBalancer = s.LoadBalancer.Name
		pl, err := plan.Build(s, p.Config)
		if err != nil && s.Cached && round < maxRounds {
			// A refusal can be for good (and complete a lifecycle action):
			// never on the word of a cached load balancer.
			p.Observer.Forget(ref)
			p.Log.Info("refused on a cached load balancer; observing again", "instance", in.ID, "target", ref.Raw, "reason", err.Error())
			continue
		}
		if err == nil && len(pl.Steps) > 0 {
			err := p.Observer.Complete(ctx, &s)
			if errors.Is(err, observe.ErrCacheStale) && round < maxRounds {
				p.Log.Info("cached load balancer out of date; observing again", "instance", in.ID, "target", ref.Raw, "reason", err.Error())
				continue
			}
			if err != nil {
				return tr, err
			}
			pl, err = p.build(ctx, &s)
		}
		tr.Notes, tr.Warnings = union(earlier.Notes, pl.Notes), union(earlier.Warnings, pl.Warnings)
		if err != nil {
			return tr, err
		}
		if dryRun {
			tr.Plan, tr.Changes = &pl, pl.Lines()
			return tr, nil
		}
		done, err := p.Applier.Run(ctx, pl)
		tr.Changes = append(tr.Changes, done...)
		if len(done) > 0 { // a round after this one may plan nothing, and check nothing
			earlier.Notes, earlier.Warnings = tr.Notes, tr.Warnings
		}
		if err != nil || addsSubnet(pl) {
			// The load balancer's subnets the cache holds are out of date
			// now. Registering and opening groups leave it true.
			p.Observer.Forget(ref)
		}
		if err != nil || changesNetwork(pl) {
			p.Observer.ForgetNetwork(in.VPC)
		}
		if errors.Is(err, apply.ErrStale) && round < maxRounds {
			p.Log.Info("state changed while applying; observing again", "instance", in.ID, "target", ref.Raw, "round", round, "reason", err.Error())
			continue
		}
		if err != nil {
			return tr, err
		}
		err = p.verify(ctx, &s, pl, &tr)
		if err != nil {
			p.Observer.Forget(ref) // before going round again too
		}
		if errors.Is(err, ErrNotInUse) && addsSubnet(pl) && !s.Target.Unrouted && round < maxRounds {
			// The AZ this run added (or found added) was dropped by a
			// concurrent SetSubnets that started from an older list. (No
			// listener forwarding is no lost update: observing again
			// would not help.)
			p.Log.Info("target not in use after adding its AZ; observing again", "instance", in.ID, "target", ref.Raw, "round", round)
			continue
		}
		return tr, err
	}
}

// union returns a's lines, then those of b that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, l := range b {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// build builds the plan on the completed state s, reading first what the
// plan wants and s lacks (observe.Fill) and building it again: what one read
// shows can make the checks want another (the subnets' CIDRs, then fresh
// ACLs, or the whole network). Fill reads each kind of want once, so four
// passes settle it.
func (p *Pipeline) build(ctx context.Context, s *state.State) (plan.Plan, error) {
	pl, err := plan.Build(*s, p.Config)
	for pass := 1; err == nil && pl.Wants.Any(); pass++ {
		if pass > 4 {
			return pl, fmt.Errorf("internal: the plan still wants %+v after reading it", pl.Wants)
		}
		if err := p.Observer.Fill(ctx, s, pl.Wants); err != nil {
			return pl, err
		}
		pl, err = plan.Build(*s, p.Config)
	}
	return pl, err
}

// changesNetwork reports whether pl changes subnets, route tables or
// network ACLs.
func changesNetwork(pl plan.Plan) bool {
	return slices.ContainsFunc(pl.Steps, func(st plan.Step) bool {
		switch st.Op {
		case plan.CreateSubnet, plan.CreateRouteTable, plan.RouteToIGW, plan.AssociateRouteTable, plan.AddNACLEntry:
			return true
		}
		return false
	})
}

func addsSubnet(pl plan.Plan) bool {
	return slices.ContainsFunc(pl.Steps, func(st plan.Step) bool { return st.Op == plan.AddSubnet })
}

// detachOne deregisters the instance from one target its tag names.
func (p *Pipeline) detachOne(ctx context.Context, in state.Instance, ref state.Ref, dryRun bool, lc *event.Lifecycle) (TargetReport, error) {
	tr := TargetReport{Target: ref.Raw, Changes: []string{}}
	t, lb, err := p.Observer.DetachTarget(ctx, ref)
	if err == nil {
		tr, err = p.applyDetach(ctx, in, t, lb, dryRun, lc)
	}
	if err != nil {
		p.Observer.Forget(ref) // the next try reads the target afresh
	}
	return tr, err
}

// detachManaged deregisters the instance from every target elbattach manages
// that it is registered in (its tag is gone, so the tag cannot say which).
// staleDetach says why a detach event no longer holds, "" when it does.
// Delivery is at least once and unordered, and a failed run is retried
// minutes later: the instance may be running again, or have its tag back, by
// the time the event is handled. A manual detach, and a lifecycle action
// (the instance runs until the action completes), always hold.
func staleDetach(t event.Trigger, in state.Instance, tagged bool, key string) string {
	if t.Action != event.Detach || t.Lifecycle != nil || t.Origin == "manual" {
		return ""
	}
	switch {
	case t.Origin == event.SourceTag && tagged:
		return fmt.Sprintf("instance %s has tag %s again; nothing to detach", in.ID, key)
	case strings.HasPrefix(t.Origin, event.SourceEC2+" ") && (in.State == "pending" || in.State == "running"):
		return fmt.Sprintf("instance %s is %s again; nothing to detach", in.ID, in.State)
	}
	return ""
}

// detachManagedBut deregisters the instance from the targets elbattach
// manages that it is in, other than those refs name (handled already).
func (p *Pipeline) detachManagedBut(ctx context.Context, in state.Instance, refs []state.Ref, r *Report, lc *event.Lifecycle) error {
	found, err := p.Observer.ManagedTargets(ctx, in, p.Config)
	if err != nil {
		return fmt.Errorf("looking for the targets a bad element of the tag may mean: %w", err)
	}
	found = slices.DeleteFunc(found, func(m observe.Managed) bool {
		return slices.ContainsFunc(refs, func(ref state.Ref) bool { return names(ref, m.Target) })
	})
	return p.detachEach(ctx, in, found, r, lc,
		fmt.Sprintf("tag %s has an element that names no valid target: %s is left by every target elbattach manages", p.Config.TagKey, in.ID))
}

func (p *Pipeline) detachManaged(ctx context.Context, in state.Instance, r *Report, lc *event.Lifecycle) error {
	found, err := p.Observer.ManagedTargets(ctx, in, p.Config)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		r.Skipped = fmt.Sprintf("instance %s is in no target that elbattach manages", in.ID)
		return nil
	}
	return p.detachEach(ctx, in, found, r, lc, "")
}

// detachEach deregisters the instance from each of targets (r.DryRun: plans
// only), each outcome a target of r with note among its notes.
func (p *Pipeline) detachEach(ctx context.Context, in state.Instance, targets []observe.Managed, r *Report, lc *event.Lifecycle, note string) error {
	var errs []error
	for _, m := range targets {
		tr, err := p.applyDetach(ctx, in, m.Target, m.LoadBalancer, r.DryRun, lc)
		if note != "" {
			tr.Notes = append(tr.Notes, note)
		}
		if err != nil {
			tr.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", m.Target.Name, err))
		}
		r.Targets = append(r.Targets, tr)
	}
	return errors.Join(errs...)
}

func (p *Pipeline) applyDetach(ctx context.Context, in state.Instance, t state.Target, lb state.LoadBalancer, dryRun bool, lc *event.Lifecycle) (TargetReport, error) {
	pl := plan.BuildDetach(in, t, lb, p.Config)
	tr := TargetReport{Target: pl.Target, LoadBalancer: lb.Name, Changes: []string{}, Notes: pl.Notes, Warnings: pl.Warnings}
	if dryRun {
		tr.Plan, tr.Changes = &pl, pl.Lines()
		return tr, nil
	}
	done, err := p.Applier.Run(ctx, pl)
	tr.Changes = append(tr.Changes, done...)
	if err == nil && lc != nil {
		err = p.drain(ctx, drainWaits(pl, in, t), lc, in.ID, &tr)
	}
	return tr, err
}

// diagnoseOne checks every hop for one target and changes nothing.
func (p *Pipeline) diagnoseOne(ctx context.Context, in state.Instance, ref state.Ref) (TargetReport, error) {
	tr := TargetReport{Target: ref.Raw, Changes: []string{}}
	s, err := p.Observer.Observe(ctx, in, ref, true)
	if err != nil {
		return tr, err
	}
	checks, pl := plan.Diagnose(s, p.Config)
	tr.LoadBalancer, tr.Diagnosis, tr.Plan, tr.Warnings = s.LoadBalancer.Name, checks, &pl, pl.Warnings
	tr.Changes = pl.Lines() // what an attach would change
	return tr, nil
}

// LogReport writes the run's one summary line.
func (p *Pipeline) LogReport(r Report, err error) {
	attrs := []any{"instance", r.Instance, "action", r.Action, "origin", r.Origin, "dry_run", r.DryRun,
		"target", r.Target, "changes", r.Changes, "warnings", r.Warnings, "aws_calls", r.Calls}
	switch {
	case err != nil:
		p.Log.Error("elbattach run failed", append(attrs, "error", err.Error(), "permanent", Permanent(err))...)
	case r.Skipped != "":
		p.Log.Info("elbattach run skipped", append(attrs, "skipped", r.Skipped)...)
	default:
		p.Log.Info("elbattach run done", append(attrs, "summary", strings.Join(r.Changes, "; "))...)
	}
}
