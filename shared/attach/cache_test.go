package attach_test

import (
	"slices"
	"testing"
	"time"

	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
)

// TestWarmContainer: one container (one pipeline with the target cache)
// takes a scale-out's events one after another. Registering and opening the
// group leave the cache true, so the next events do not read the target
// group, its tags, the load balancer or its listeners again; adding an AZ
// makes it forget the load balancer.
func TestWarmContainer(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	p := pipeline(w, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
	p.Applier.TrustList = 0 // settle/2: a cached list is older than that
	run := func(id string) []string {
		t.Helper()
		w.ResetCalls()
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
		if err != nil {
			t.Fatalf("run %s: %v\nreport: %+v", id, err, r)
		}
		return r.Changes
	}

	first := site.Instance("us-east-1a", "web")
	if n := len(run(first)); n != 2 { // open the group, register
		t.Fatalf("first run: %d changes, want 2", n)
	}
	wantCalls(t, w, "ec2.DescribeInstances",
		"elbv2.DescribeTargetGroups", "elbv2.DescribeTags", "elbv2.DescribeLoadBalancers", "elbv2.DescribeTargetHealth",
		"ec2.DescribeSecurityGroups",
		"ec2.DescribeSubnets", "ec2.DescribeRouteTables", "ec2.DescribeNetworkAcls", "elbv2.DescribeListeners",
		"ec2.AuthorizeSecurityGroupIngress", "elbv2.RegisterTargets",
		"elbv2.DescribeTargetHealth") // verify: registered in a covered AZ

	second := site.Instance("us-east-1a", "web")
	if n := len(run(second)); n != 1 {
		t.Fatalf("second run: %d changes, want 1 (register)", n)
	}
	wantCalls(t, w, "ec2.DescribeInstances", "elbv2.DescribeTargetHealth", "ec2.DescribeSecurityGroups",
		"ec2.DescribeSubnets", "ec2.DescribeRouteTables", "ec2.DescribeNetworkAcls", // the checks: network ACLs are not cached
		"elbv2.RegisterTargets", "elbv2.DescribeTargetHealth")

	// The first instance in a new AZ on this warm container: 11 calls
	// (the group is open already). The cached subnet list is old, so it
	// is read again before SetSubnets.
	third := site.Instance("us-east-1c", "web")
	if n := len(run(third)); n != 4 { // create, associate, add the subnet, register
		t.Fatalf("new AZ: %d changes, want 4", n)
	}
	wantCalls(t, w, "ec2.DescribeInstances", "ec2.DescribeSecurityGroups",
		"ec2.DescribeSubnets", "ec2.DescribeRouteTables", "ec2.DescribeNetworkAcls",
		"ec2.CreateSubnet", "ec2.AssociateRouteTable",
		"elbv2.DescribeLoadBalancers", "elbv2.SetSubnets", "elbv2.DescribeLoadBalancers",
		"elbv2.RegisterTargets")

	// The AZ was added: the cached load balancer was forgotten.
	fourth := site.Instance("us-east-1c", "web")
	run(fourth)
	if calls := w.Calls(); !slices.Contains(calls, "elbv2.DescribeTargetGroups") || !slices.Contains(calls, "elbv2.DescribeListeners") {
		t.Errorf("after adding an AZ the target was not read again: %v", calls)
	}

	// A stop on the warm container: the instance, its registrations, the
	// deregistration.
	w.SetInstanceState(first, "stopped")
	w.ResetCalls()
	r, err := p.Run(ctx, event.Trigger{InstanceID: first, Action: event.Detach, Origin: "aws.ec2 stopped"})
	if err != nil || len(r.Changes) != 1 || r.Targets[0].LoadBalancer != "web-alb" {
		t.Fatalf("detach: %q, %v, %+v", r.Changes, err, r.Targets)
	}
	wantCalls(t, w, "ec2.DescribeInstances", "elbv2.DescribeTargetHealth", "elbv2.DeregisterTargets")

	// Diagnose tells what is there now: it reads the target group, the load
	// balancer and its listeners afresh, warm container or not.
	w.ResetCalls()
	if _, err := p.Run(ctx, event.Trigger{InstanceID: second, Action: event.Diagnose, Origin: "manual"}); err != nil {
		t.Fatalf("diagnose: %v", err)
	}
	for _, op := range []string{"elbv2.DescribeTargetGroups", "elbv2.DescribeLoadBalancers", "elbv2.DescribeListeners"} {
		if !slices.Contains(w.Calls(), op) {
			t.Errorf("diagnose on a warm container did not call %s: %v", op, w.Calls())
		}
	}
}
