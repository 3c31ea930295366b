package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/infra/faultproxy"
)

// lifecycleEvent is the detail of an Auto Scaling lifecycle action.
func lifecycleEvent(id, hook, transition string) map[string]string {
	return map[string]string{"LifecycleActionToken": "tok-" + id, "AutoScalingGroupName": "web-asg", "LifecycleHookName": hook,
		"EC2InstanceId": id, "LifecycleTransition": transition, "Origin": "EC2", "Destination": "AutoScalingGroup"}
}

// TestLifecycle: the launch hook attaches, then completes CONTINUE; the
// terminate hook deregisters, drains, then completes CONTINUE. moto lacks
// CompleteLifecycleAction, so the function talks to moto through the test
// proxy, which answers and records the lifecycle calls and passes every
// other call through untouched.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	proxy, err := faultproxy.Start(moto.Endpoint, faultproxy.Rates{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	fn, bus := function(t, LifecycleFn, proxy.Env(nil)...), newBus(t)
	arn := "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:d4738357:autoScalingGroupName/web-asg"

	got := deliver(t, bus, "aws.autoscaling", "EC2 Instance-launch Lifecycle Action",
		lifecycleEvent(s.inst.ID, "elbattach-launch", "autoscaling:EC2_INSTANCE_LAUNCHING"), arn)
	if _, ok := got[LifecycleFn]; !ok || len(got) != 1 {
		t.Fatalf("launch action delivered to %v", keys(got))
	}
	r, ferr := invoke(t, fn, got[LifecycleFn])
	if ferr != nil {
		t.Fatal(ferr)
	}
	if ts := s.targets(); !cmp.Equal(ts, []string{s.inst.ID + ":80"}) || s.lbSubnets()["us-east-1c"] == "" {
		t.Errorf("after launch: targets %v, subnets %v", ts, s.lbSubnets())
	}
	// The launch added us-east-1c: the AZ was read back, the health is not read.
	if r.Lifecycle == nil || r.Lifecycle.Result != "CONTINUE" || !slices.ContainsFunc(r.Targets[0].Notes, func(n string) bool { return strings.HasPrefix(n, "health not read") }) {
		t.Errorf("report = %+v", r)
	}

	got = deliver(t, bus, "aws.autoscaling", "EC2 Instance-terminate Lifecycle Action",
		lifecycleEvent(s.inst.ID, "elbattach-terminate", "autoscaling:EC2_INSTANCE_TERMINATING"), arn)
	r, ferr = invoke(t, fn, got[LifecycleFn])
	if ferr != nil {
		t.Fatal(ferr)
	}
	if ts := s.targets(); len(ts) != 0 || r.Targets[0].Drain == "" {
		t.Errorf("after terminate: targets %v, report %+v", ts, r)
	}
	calls := proxy.LifecycleCalls()
	if len(calls) != 2 {
		t.Fatalf("lifecycle calls = %+v, want two completions", calls)
	}
	for i, hook := range []string{"elbattach-launch", "elbattach-terminate"} {
		c := calls[i]
		if c.Action != "CompleteLifecycleAction" || c.LifecycleHookName != hook || c.AutoScalingGroupName != "web-asg" ||
			c.LifecycleActionToken != "tok-"+s.inst.ID || c.LifecycleActionResult != "CONTINUE" || c.InstanceID != s.inst.ID {
			t.Errorf("call %d = %+v", i, c)
		}
	}
}

// TestLifecycleRefusedAttach: a launch whose attach is refused for good
// completes with LIFECYCLE_ON_FAILURE and says why; nothing is retried.
func TestLifecycleRefusedAttach(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(o *options) { o.alb.Internal = true })
	proxy, err := faultproxy.Start(moto.Endpoint, faultproxy.Rates{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	fn := function(t, LifecycleFn, append(proxy.Env(nil), "LIFECYCLE_ON_FAILURE=abandon")...)
	r, ferr := invoke(t, fn, sample(t, "lifecycle-launch.json", s.inst.ID))
	if ferr != nil {
		t.Fatalf("a refused attach should complete the action, not fail the invoke: %v", ferr)
	}
	if !strings.Contains(r.Error, "is not internet-facing") || r.Lifecycle == nil || r.Lifecycle.Result != "ABANDON" {
		t.Errorf("report = %+v", r)
	}
	if calls := proxy.LifecycleCalls(); len(calls) != 1 || calls[0].LifecycleActionResult != "ABANDON" {
		t.Errorf("lifecycle calls = %+v", calls)
	}
	// The instance is untouched.
	out, _ := s.ec2.DescribeInstances(s.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{s.inst.ID}})
	if len(out.Reservations) != 1 || aws.ToString(out.Reservations[0].Instances[0].InstanceId) != s.inst.ID {
		t.Errorf("instance gone")
	}
}
