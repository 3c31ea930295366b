// Package asg completes Auto Scaling lifecycle actions. Only the lifecycle
// function links it (and the Auto Scaling SDK client with it): the other
// functions never complete an action, and every SDK service package costs
// binary size and start-up time.
package asg

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/elbattach/elbattach/shared/event"
)

// API is the part of the Auto Scaling API a lifecycle action needs.
type API interface {
	CompleteLifecycleAction(context.Context, *autoscaling.CompleteLifecycleActionInput, ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
	RecordLifecycleActionHeartbeat(context.Context, *autoscaling.RecordLifecycleActionHeartbeatInput, ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error)
}

var _ API = (*autoscaling.Client)(nil)

// Actions completes and keeps alive lifecycle actions through API.
type Actions struct{ API API }

// New returns Actions on an Auto Scaling client made from cfg.
func New(cfg aws.Config) *Actions { return &Actions{API: autoscaling.NewFromConfig(cfg)} }

// Complete ends the instance's wait with result (CONTINUE or ABANDON).
func (a *Actions) Complete(ctx context.Context, lc event.Lifecycle, instance, result string) error {
	_, err := a.API.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(lc.Group), LifecycleHookName: aws.String(lc.Hook),
		LifecycleActionToken: aws.String(lc.Token), InstanceId: aws.String(instance), LifecycleActionResult: aws.String(result),
	})
	if err != nil {
		return fmt.Errorf("completing lifecycle action %s of %s, %w", lc.Hook, lc.Group, err)
	}
	return nil
}

// Heartbeat extends the action's timeout.
func (a *Actions) Heartbeat(ctx context.Context, lc event.Lifecycle, instance string) error {
	_, err := a.API.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: aws.String(lc.Group), LifecycleHookName: aws.String(lc.Hook),
		LifecycleActionToken: aws.String(lc.Token), InstanceId: aws.String(instance),
	})
	if err != nil {
		return fmt.Errorf("recording lifecycle heartbeat, %w", err)
	}
	return nil
}
