package attach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/elbattach/elbattach/shared/plan"
	"github.com/elbattach/elbattach/shared/state"
)

// ErrNotInUse is retryable: the target is registered but the load balancer
// sends it nothing (AWS: unused, Target.NotInUse). Registering a target in an
// AZ the load balancer does not cover succeeds; this is how elbattach refuses
// to call that a success.
var ErrNotInUse = errors.New("target registered but not in use")

// pollEvery is how often a wait for health reads the target again: health
// checks run every 5 to 300 s (30 s by default), so 5 s sees each result.
const pollEvery = 5 * time.Second

// verify reads the target's health once after an attach (or, with
// WAIT_HEALTHY_SECONDS, until it is healthy or the time is up) and records it
// in the report. unused/Target.NotInUse fails the run and names the cause.
// Unhealthy after the wait is a warning that comes with the diagnosis.
//
// Not waiting, a run that added the instance's AZ reads nothing when a
// listener or rule forwards to the target group (read, not assumed: see
// observe.Complete): apply read the AZ back on
// the load balancer after the settle delay, so neither cause of a NotInUse
// holds, and a target registered a moment ago reads initial. With no
// listener forwarding, it reads, and NotInUse fails the run.
//
// A NotInUse reads the listeners afresh first, into s (a run that changed
// nothing did not read them, and a warm container's may be 30 s old): the
// error names the cause, and the caller goes round again only for a lost
// update. A failed read keeps what s had and is added to the error, which
// stays a NotInUse.
func (p *Pipeline) verify(ctx context.Context, s *state.State, pl plan.Plan, tr *TargetReport) error {
	if p.Config.WaitHealthy == 0 && addsSubnet(pl) && s.Target.ListenersRead && !s.Target.Unrouted {
		tr.Notes = append(tr.Notes, fmt.Sprintf("health not read: %s was just added to %s and read back there; a new target starts initial (WAIT_HEALTHY_SECONDS waits for healthy)",
			s.Instance.AZ, s.LoadBalancer.Name))
		return nil
	}
	changed := slices.ContainsFunc(pl.Steps, func(st plan.Step) bool { return st.Op == plan.Register || st.Op == plan.AddSubnet })
	reg, found := observedRegistration(*s)
	start, wait := time.Now(), p.Config.WaitHealthy.String()
	deadline := start.Add(p.Config.WaitHealthy)
	if d, ok := ctx.Deadline(); ok && p.Config.WaitHealthy > 0 && d.Add(-drainMargin).Before(deadline) {
		// The wait ends in time for the report, the outcome event and the
		// lifecycle completion: a run the function's timeout cuts short
		// reports nothing and is retried.
		deadline = d.Add(-drainMargin)
		wait = fmt.Sprintf("%s (the function's timeout leaves no more of WAIT_HEALTHY_SECONDS' %s)",
			max(deadline.Sub(start), 0).Round(time.Second), p.Config.WaitHealthy)
	}
	for first := true; ; first = false {
		if changed || !found || !first {
			var err error
			if reg, err = p.health(ctx, *s); err != nil {
				return err
			}
		}
		tr.Health = fmt.Sprintf("%s %s", reg.State, reg.Reason)
		if reg.State == "unused" && reg.Reason == "Target.NotInUse" {
			var readErr error
			if err := p.Observer.RefreshListeners(ctx, s); err != nil {
				readErr = fmt.Errorf("reading the listeners to name the cause, %w", err)
			}
			return errors.Join(fmt.Errorf("%w: %s in %s: %s (%s)", ErrNotInUse, s.TargetID(), s.Target.Name, notInUseCause(*s), reg.Description), readErr)
		}
		if isHealthy(reg) || p.Config.WaitHealthy == 0 || time.Now().Add(p.poll()).After(deadline) {
			break
		}
		select {
		case <-time.After(p.poll()):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if p.Config.WaitHealthy > 0 && !isHealthy(reg) {
		tr.Warnings = append(tr.Warnings, fmt.Sprintf("%s is %s after %s: %s %s", s.TargetID(), reg.State, wait, reg.Reason, reg.Description))
		// The diagnosis reads everything afresh, as diagnose does: the run's
		// state may hold cached network facts and no listener ports.
		if fresh, err := p.Observer.Observe(ctx, s.Instance, s.Target.Ref, true); err == nil {
			tr.Diagnosis, _ = plan.Diagnose(fresh, p.Config)
		}
	}
	return nil
}

// notInUseCause names why a registered target gets no traffic.
func notInUseCause(s state.State) string {
	if s.Target.Unrouted {
		return "no listener or rule forwards to the target group"
	}
	if s.LoadBalancer.SubnetIn(s.Instance.AZ) == "" {
		return fmt.Sprintf("its Availability Zone %s is not enabled on the load balancer", s.Instance.AZ)
	}
	return "the load balancer does not route to it yet (Availability Zone or listener)"
}

func observedRegistration(s state.State) (state.Registration, bool) {
	for _, r := range s.Target.Registrations {
		if r.ID == s.TargetID() && (s.LoadBalancer.IsClassic() || r.Port == s.TrafficPort()) {
			return r, r.State != "" && r.State != "registered"
		}
	}
	return state.Registration{}, false
}

// health reads the target's state now.
func (p *Pipeline) health(ctx context.Context, s state.State) (state.Registration, error) {
	if s.LoadBalancer.IsClassic() {
		return p.Observer.ClassicHealth(ctx, s.LoadBalancer.Name, s.Instance.ID)
	}
	regs, err := p.Observer.Registrations(ctx, s.Target.ARN, s.TargetID(), s.TrafficPort())
	if err != nil || len(regs) == 0 {
		return state.Registration{}, err
	}
	return regs[0], nil
}

func isHealthy(r state.Registration) bool { return r.State == "healthy" || r.State == "InService" }

func (p *Pipeline) poll() time.Duration {
	if p.PollEvery > 0 {
		return p.PollEvery
	}
	return pollEvery
}
