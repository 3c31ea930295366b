package attach

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/plan"
	"github.com/elbattach/elbattach/shared/state"
)

// LifecycleActions completes Auto Scaling lifecycle actions (package asg, wired
// by the lifecycle function only).
type LifecycleActions interface {
	Complete(ctx context.Context, lc event.Lifecycle, instance, result string) error
	Heartbeat(ctx context.Context, lc event.Lifecycle, instance string) error
}

// LifecycleOutcome is how a lifecycle action was completed.
type LifecycleOutcome struct {
	Group  string `json:"group"`
	Hook   string `json:"hook"`
	Result string `json:"result"` // CONTINUE, ABANDON, or NotActive
}

// NotActive is the lifecycle result of a run whose action was no longer
// active when it came to complete it.
const NotActive = "not active"

// drainMargin is kept from the function's deadline for completing the
// lifecycle action after a drain wait.
const drainMargin = 10 * time.Second

// Permanent reports whether err is one no retry can fix: a refusal, bad
// input, or something that does not exist. Errors joined from several targets
// are permanent only when each of them is: a retry can still mend the others.
func Permanent(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		for _, e := range errs {
			if !Permanent(e) {
				return false
			}
		}
		return len(errs) > 0
	}
	return plan.Permanent(err) || errors.Is(err, observe.ErrInstanceNotFound) || errors.Is(err, observe.ErrTargetNotFound) ||
		errors.Is(err, state.ErrBadTargetTag) || errors.Is(err, ErrForeignRegion) || errors.Is(err, event.ErrMalformed) ||
		errors.Is(err, event.ErrForeign)
}

// completeLifecycle ends the instance's wait. A launch whose attach worked
// (or was refused for good, then with LIFECYCLE_ON_FAILURE) completes; a
// transient failure does not, so that the retried invocation completes it —
// or, if none succeeds, the hook's own timeout and default result apply. An
// instance the launch action names exists, so not finding it is EC2's
// eventual consistency, retried. A terminate completes once the
// deregistration and its drain are done, or CONTINUE at once when it failed
// for good (a deleted target group, a bad tag): the instance goes either way,
// and waiting for the hook's timeout would only delay it; the report and the
// outcome event say what failed.
func (p *Pipeline) completeLifecycle(ctx context.Context, t event.Trigger, r *Report, runErr error) error {
	lc := t.Lifecycle
	result := "CONTINUE"
	switch {
	case runErr == nil:
	case t.Action == event.Attach && Permanent(runErr) && !errors.Is(runErr, observe.ErrInstanceNotFound):
		result = p.Config.LifecycleOnFailure
	case t.Action == event.Detach && Permanent(runErr):
	default:
		return runErr
	}
	if p.Lifecycle == nil {
		return errors.Join(runErr, fmt.Errorf("%w: this function cannot complete lifecycle actions", plan.ErrUnsupported))
	}
	err := p.Lifecycle.Complete(ctx, *lc, t.InstanceID, result)
	if awserr.Is(err, awserr.ValidationError) {
		// "No active Lifecycle Action found": an earlier delivery of this
		// event completed it (or an SDK retry whose first attempt did), or
		// the hook timed out. Nothing is left to complete; failing would
		// only send the event round the retries into the failure queue.
		r.Warnings = append(r.Warnings, fmt.Sprintf("lifecycle action %s of %s for %s was no longer active (completed by an earlier delivery, or timed out): %v",
			lc.Hook, lc.Group, t.InstanceID, err))
		r.Lifecycle = &LifecycleOutcome{Group: lc.Group, Hook: lc.Hook, Result: NotActive}
		return nil
	}
	if err != nil {
		return errors.Join(runErr, err)
	}
	r.Lifecycle = &LifecycleOutcome{Group: lc.Group, Hook: lc.Hook, Result: result}
	return nil // the action is complete: a retry could not do better
}

// drainWait is one registration a terminate action waits for.
type drainWait struct {
	TargetGroup, TargetID string
	Port                  int32
}

// drainWaits lists what a terminate action waits for in target t: the
// registrations the plan deregisters, and those of the instance already
// draining (a retried invocation after the first deregistered them and then
// failed: its plan has nothing left to deregister, but the drain is not
// over). Classic ELBs drain by connection draining, not a target state.
func drainWaits(pl plan.Plan, in state.Instance, t state.Target) []drainWait {
	var out []drainWait
	for _, st := range pl.Steps {
		if st.Op == plan.Deregister && st.TargetGroup != "" {
			out = append(out, drainWait{st.TargetGroup, st.TargetID, st.Port})
		}
	}
	id := in.ID
	if t.TargetType == "ip" {
		id = in.PrivateIP
	}
	for _, r := range t.Registrations {
		if t.ARN != "" && id != "" && r.ID == id && r.State == "draining" {
			out = append(out, drainWait{t.ARN, r.ID, r.Port})
		}
	}
	return out
}

// drain waits, within the function's remaining time, until every
// registration of waits has left the draining state, sending lifecycle
// heartbeats meanwhile so that the hook does not time out first.
func (p *Pipeline) drain(ctx context.Context, waits []drainWait, lc *event.Lifecycle, instance string, tr *TargetReport) error {
	// The first wait of each target records a heartbeat at once: it keeps
	// the hook from timing out, and a replayed action no longer active shows
	// there, not a heartbeat interval later for each target.
	start, lastBeat := time.Now(), time.Time{}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = start.Add(15 * time.Minute)
	}
	for _, st := range waits {
		for {
			regs, err := p.Observer.Registrations(ctx, st.TargetGroup, st.TargetID, st.Port)
			if err != nil {
				return err
			}
			if len(regs) == 0 || regs[0].State != "draining" {
				break
			}
			if time.Now().Add(p.poll() + drainMargin).After(deadline) {
				tr.Warnings = append(tr.Warnings, fmt.Sprintf("%s still draining from %s when the function's time ran out", st.TargetID, st.TargetGroup))
				break
			}
			if time.Since(lastBeat) >= p.Config.Heartbeat {
				err := p.Lifecycle.Heartbeat(ctx, *lc, instance)
				if awserr.Is(err, awserr.ValidationError) {
					// The action is no longer active (completed by an
					// earlier delivery, or timed out): nobody waits for
					// this drain any more; completing it says so.
					tr.Warnings = append(tr.Warnings, fmt.Sprintf("stopped waiting for %s to drain from %s: the lifecycle action is no longer active", st.TargetID, st.TargetGroup))
					return nil
				}
				if err != nil {
					return err
				}
				lastBeat = time.Now()
			}
			select {
			case <-time.After(p.poll()):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	tr.Drain = time.Since(start).Round(time.Millisecond).String()
	return nil
}
