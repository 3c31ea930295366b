package attach

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/plan"
	"github.com/elbattach/elbattach/shared/state"
)

// AutoScaling is the part of the Auto Scaling API a lifecycle action needs.
type AutoScaling interface {
	CompleteLifecycleAction(context.Context, *autoscaling.CompleteLifecycleActionInput, ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
	RecordLifecycleActionHeartbeat(context.Context, *autoscaling.RecordLifecycleActionHeartbeatInput, ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error)
}

var _ AutoScaling = (*autoscaling.Client)(nil)

// LifecycleOutcome is how a lifecycle action was completed.
type LifecycleOutcome struct {
	Group  string `json:"group"`
	Hook   string `json:"hook"`
	Result string `json:"result"` // CONTINUE or ABANDON
}

// drainMargin is kept from the function's deadline for completing the
// lifecycle action after a drain wait.
const drainMargin = 10 * time.Second

// Permanent reports whether err is one no retry can fix: a refusal, bad
// input, or something that does not exist.
func Permanent(err error) bool {
	return plan.Permanent(err) || errors.Is(err, observe.ErrInstanceNotFound) || errors.Is(err, observe.ErrTargetNotFound) ||
		errors.Is(err, state.ErrBadTargetTag) || errors.Is(err, ErrForeignRegion) || errors.Is(err, event.ErrMalformed) ||
		errors.Is(err, event.ErrForeign)
}

// completeLifecycle ends the instance's wait. A launch whose attach worked
// (or was refused for good, then with LIFECYCLE_ON_FAILURE) completes; a
// transient failure does not, so that the retried invocation completes it —
// or, if none succeeds, the hook's own timeout and default result apply. A
// terminate completes once the deregistration and its drain are done.
func (p *Pipeline) completeLifecycle(ctx context.Context, t event.Trigger, r *Report, runErr error) error {
	lc := t.Lifecycle
	result := "CONTINUE"
	switch {
	case runErr == nil:
	case t.Action == event.Attach && Permanent(runErr):
		result = p.Config.LifecycleOnFailure
	default:
		return runErr
	}
	_, err := p.AutoScaling.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(lc.Group), LifecycleHookName: aws.String(lc.Hook),
		LifecycleActionToken: aws.String(lc.Token), InstanceId: aws.String(t.InstanceID), LifecycleActionResult: aws.String(result),
	})
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("completing lifecycle action %s of %s, %w", lc.Hook, lc.Group, err))
	}
	r.Lifecycle = &LifecycleOutcome{Group: lc.Group, Hook: lc.Hook, Result: result}
	return nil // the action is complete: a retry could not do better
}

// drain waits, within the function's remaining time, until every target the
// plan deregistered has left the draining state, sending lifecycle
// heartbeats meanwhile so that the hook does not time out first.
func (p *Pipeline) drain(ctx context.Context, pl plan.Plan, lc *event.Lifecycle, instance string, tr *TargetReport) error {
	start, lastBeat := time.Now(), time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = start.Add(15 * time.Minute)
	}
	for _, st := range pl.Steps {
		if st.Op != plan.Deregister || st.TargetGroup == "" {
			continue
		}
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
				if _, err := p.AutoScaling.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
					AutoScalingGroupName: aws.String(lc.Group), LifecycleHookName: aws.String(lc.Hook),
					LifecycleActionToken: aws.String(lc.Token), InstanceId: aws.String(instance)}); err != nil {
					return fmt.Errorf("recording lifecycle heartbeat, %w", err)
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
