package event_test

import (
	"testing"

	"github.com/elbattach/elbattach/shared/event"
)

// lifecycleEvent is an Auto Scaling lifecycle action event for the instance id.
func lifecycleEvent(detailType, hook, transition, destination string, mods ...mod) string {
	return encode(map[string]any{
		"version":     "0",
		"id":          "3e3c153a-8339-4e30-8c35-687ebef853fe",
		"detail-type": detailType,
		"source":      event.SourceAutoScaling,
		"account":     account,
		"time":        "2026-11-24T10:15:30Z",
		"region":      region,
		"resources":   []string{"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:d4738357:autoScalingGroupName/web-asg"},
		"detail": map[string]any{
			"LifecycleActionToken": "tok", "AutoScalingGroupName": "web-asg", "LifecycleHookName": hook,
			"EC2InstanceId": id, "LifecycleTransition": transition, "Origin": "EC2", "Destination": destination,
		},
	}, mods)
}

const (
	launching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
	terminating = "autoscaling:EC2_INSTANCE_TERMINATING"
)

func TestParseLifecycle(t *testing.T) {
	lc := func(hook, transition string) *event.Lifecycle {
		return &event.Lifecycle{Group: "web-asg", Hook: hook, Token: "tok", Transition: transition}
	}
	trigger := func(action event.Action, l *event.Lifecycle, reason string) event.Trigger {
		return event.Trigger{InstanceID: id, Action: action, Origin: event.SourceAutoScaling, Region: region, Account: account,
			Lifecycle: l, Reason: reason}
	}
	cases := []parseCase{
		{name: "launch into the group", kind: event.LifecycleAction,
			raw:  lifecycleEvent(event.DetailLaunch, "elbattach-launch", launching, "AutoScalingGroup"),
			want: trigger(event.Attach, lc("elbattach-launch", launching), "")},
		{name: "terminate", kind: event.LifecycleAction,
			raw:  lifecycleEvent(event.DetailTerminate, "elbattach-terminate", terminating, "EC2"),
			want: trigger(event.Detach, lc("elbattach-terminate", terminating), "")},
		{name: "scale in to the warm pool: detach", kind: event.LifecycleAction,
			raw:  lifecycleEvent(event.DetailTerminate, "elbattach-terminate", terminating, "WarmPool"),
			want: trigger(event.Detach, lc("elbattach-terminate", terminating), "")},
		{name: "launch into the warm pool: completed, nothing attached", kind: event.LifecycleAction,
			raw: lifecycleEvent(event.DetailLaunch, "elbattach-launch", launching, "WarmPool"),
			want: trigger(event.Ignore, lc("elbattach-launch", launching),
				"instance "+id+" enters the warm pool of web-asg, not service; nothing to attach")},
		{name: "another hook: neither acted on nor completed", kind: event.LifecycleAction,
			raw: lifecycleEvent(event.DetailLaunch, "wait-for-bootstrap", launching, "AutoScalingGroup"),
			want: trigger(event.Ignore, nil,
				`lifecycle hook "wait-for-bootstrap" of web-asg is not elbattach's (its hooks' names start with "elbattach"); left to its owner`)},
		{name: "another hook's terminate", kind: event.LifecycleAction,
			raw:  lifecycleEvent(event.DetailTerminate, "backup-logs", terminating, "EC2"),
			want: trigger(event.Ignore, nil, `lifecycle hook "backup-logs" of web-asg is not elbattach's (its hooks' names start with "elbattach"); left to its owner`)},
		{name: "launch detail-type with the terminate transition", kind: event.LifecycleAction,
			raw:     lifecycleEvent(event.DetailLaunch, "elbattach-launch", terminating, "EC2"),
			wantErr: event.ErrMalformed, wantMsg: `EC2 Instance-launch Lifecycle Action with transition "autoscaling:EC2_INSTANCE_TERMINATING"`},
		{name: "no token", kind: event.LifecycleAction,
			raw:     lifecycleEvent(event.DetailLaunch, "elbattach-launch", launching, "AutoScalingGroup", setDetail("LifecycleActionToken", absent{})),
			wantErr: event.ErrMalformed, wantMsg: "lifecycle detail needs LifecycleActionToken"},
	}
	runParseCases(t, cases)
}
