package attach_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/plan"
)

// TestWarmContainer: one container (one pipeline with the target cache)
// takes a scale-out's events one after another. Registering and opening the
// group leave the cache true, so the next events do not read the target
// group, its tags, the load balancer's description or the VPC's network
// again; adding an AZ makes it forget the load balancer and the network.
// The listeners are read by the first run, for the checks, and cached with
// the target.
func TestWarmContainer(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	p := pipeline(w, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
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
		"ec2.DescribeNetworkAcls", "ec2.DescribeRouteTables", "elbv2.DescribeListeners", // the checks: the ACLs let everything through, so no subnets
		"ec2.AuthorizeSecurityGroupIngress", "elbv2.RegisterTargets",
		"elbv2.DescribeTargetHealth") // verify: registered in a covered AZ

	second := site.Instance("us-east-1a", "web")
	if n := len(run(second)); n != 1 {
		t.Fatalf("second run: %d changes, want 1 (register)", n)
	}
	wantCalls(t, w, "ec2.DescribeInstances", "elbv2.DescribeTargetHealth", "ec2.DescribeSecurityGroups",
		// the checks find nothing wrong in the cached network
		"elbv2.DescribeLoadBalancers", // about to change something: the cached load balancer is read again
		"elbv2.RegisterTargets", "elbv2.DescribeTargetHealth")

	// The first instance in a new AZ on this warm container: 10 calls
	// (the group is open already). The subnets and route tables are read
	// afresh for the choice of subnet (the checks take the cached ACLs and
	// listeners). The load balancer read again before the changes is fresh
	// enough to write its subnet list as it is.
	third := site.Instance("us-east-1c", "web")
	if n := len(run(third)); n != 4 { // create, associate, add the subnet, register
		t.Fatalf("new AZ: %d changes, want 4", n)
	}
	wantCalls(t, w, "ec2.DescribeInstances", "ec2.DescribeSecurityGroups",
		"ec2.DescribeSubnets", "ec2.DescribeRouteTables",
		"ec2.CreateSubnet", "ec2.AssociateRouteTable",
		"elbv2.DescribeLoadBalancers", "elbv2.SetSubnets", "elbv2.DescribeLoadBalancers",
		"elbv2.RegisterTargets")

	// The AZ was added: the cached load balancer was forgotten, and the
	// network read again (its new subnet is one the cache does not know;
	// TestChangedNetworkForgotten shows the forgetting itself).
	fourth := site.Instance("us-east-1c", "web")
	run(fourth)
	if calls := w.Calls(); !slices.Contains(calls, "elbv2.DescribeTargetGroups") || !slices.Contains(calls, "ec2.DescribeNetworkAcls") {
		t.Errorf("after adding an AZ the target and the network were not read again: %v", calls)
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

// TestWarmContainerLoadBalancerMoved: what a warm container cached about the
// load balancer changed before a run that changes something. An AZ removed
// by someone else is added back (the reviewer's case: the cached list still
// had it, and registering alone would leave the target unused); new security groups make the run observe
// again and open the instance's group to them, not to the old ones.
func TestWarmContainerLoadBalancerMoved(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	p := pipeline(w, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
	runID := func(id string) attach.Report {
		t.Helper()
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
		if err != nil {
			t.Fatalf("run %s: %v\nreport: %+v", id, err, r)
		}
		return r
	}
	runID(site.Instance("us-east-1a", "web")) // the cache holds the ALB in us-east-1a and b

	c := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27")
	w.Associate(site.PublicRT, c)
	w.SetLBSubnets(site.LB, site.Public["us-east-1a"], c) // someone swapped us-east-1b for us-east-1c
	r := runID(site.Instance("us-east-1b", "web"))
	if w.LBZones(site.LB)["us-east-1b"] != site.Public["us-east-1b"] || !slices.ContainsFunc(r.Changes, func(l string) bool {
		return strings.HasPrefix(l, "~ add subnet "+site.Public["us-east-1b"])
	}) {
		t.Errorf("us-east-1b not added back: changes %q, AZs %v", r.Changes, w.LBZones(site.LB))
	}

	runID(site.Instance("us-east-1a", "web")) // cached again
	other := w.AddSecurityGroup(site.VPC, "alb-2")
	w.AddIngress(other, fakeaws.TCP(80, "0.0.0.0/0"))
	w.SetLBGroups(site.LB, other)
	r = runID(site.Instance("us-east-1a", "web"))
	want := "+ allow tcp/80 into " + site.AppGroup + " from " + other // the cached groups are open already
	if !slices.Contains(r.Changes, want) {
		t.Errorf("changes %q, want %q", r.Changes, want)
	}
}

// TestWarmContainerLoadBalancerReplaced: the load balancer a warm container
// cached is deleted and another one forwards to the target group now (a
// CloudFormation replacement). The next run observes again and registers
// behind the new one: no refusal for good (which would complete a launch
// lifecycle action with LIFECYCLE_ON_FAILURE), and no 30 s of failures.
func TestWarmContainerLoadBalancerReplaced(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	p := pipeline(w, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
	if _, err := p.Run(ctx, event.Trigger{InstanceID: site.Instance("us-east-1a", "web"), Action: event.Attach, Origin: "aws.ec2 running"}); err != nil {
		t.Fatal(err)
	}
	w.AddLoadBalancer("web-alb-2", "application", fakeaws.Subnets(site.Public["us-east-1a"], site.Public["us-east-1b"]),
		fakeaws.Groups(site.LBGroup), fakeaws.Forward(80, site.TG))
	w.DeleteLoadBalancer(site.LB)
	id := site.Instance("us-east-1a", "web")
	r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if err != nil {
		t.Fatalf("run after the replacement: %v (permanent %v)\nreport: %+v", err, attach.Permanent(err), r)
	}
	if r.Targets[0].LoadBalancer != "web-alb-2" || !slices.Contains(r.Changes, "+ register "+id+" on port 80 in "+site.TG) {
		t.Errorf("load balancer %q, changes %q: want registered behind web-alb-2", r.Targets[0].LoadBalancer, r.Changes)
	}
}

// TestFailedRunForgets: a run that fails, here refused before any change
// (the target group carries no opt-in tag), forgets what the container
// cached of the target, so that the operator's fix counts at once: the next
// run reads the tags again.
func TestFailedRunForgets(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	tg := w.AddTargetGroup(site.VPC, "api", 8080)
	w.SetListenerDefault(site.LB, 80, tg)
	p := pipeline(w, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
	_, err := p.Run(ctx, event.Trigger{InstanceID: site.Instance("us-east-1a", "api"), Action: event.Attach, Origin: "aws.ec2 running"})
	if !errors.Is(err, plan.ErrNotAllowed) {
		t.Fatalf("untagged target group: %v, want %v", err, plan.ErrNotAllowed)
	}
	w.TagTargetGroup(tg, "elbattach:allow", "true")
	if r, err := p.Run(ctx, event.Trigger{InstanceID: site.Instance("us-east-1a", "api"), Action: event.Attach, Origin: "aws.ec2 running"}); err != nil {
		t.Fatalf("after the operator tagged it, same container: %v\nreport: %+v", err, r)
	}
}

// TestRefusalNotOnCachedLoadBalancer: a refusal for good (here: a new AZ on a
// dualstack load balancer) is never made on a warm container's cached load
// balancer: the operator added the AZ's subnet by hand, as the refusal asks,
// or switched the load balancer to ipv4, moments ago. The run observes again
// and attaches (a reviewer's case: the refusal completed a launch hook).
func TestRefusalNotOnCachedLoadBalancer(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	w.SetLBAddressType(site.LB, "dualstack")
	p := pipeline(w, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
	if _, err := p.Run(ctx, event.Trigger{InstanceID: site.Instance("us-east-1a", "web"), Action: event.Attach, Origin: "aws.ec2 running"}); err != nil {
		t.Fatal(err) // the cache holds the dualstack ALB in us-east-1a and b
	}
	c := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27")
	w.Associate(site.PublicRT, c)
	w.SetLBSubnets(site.LB, site.Public["us-east-1a"], site.Public["us-east-1b"], c) // the operator, by hand
	id := site.Instance("us-east-1c", "web")
	r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if err != nil || !slices.Contains(r.Changes, "+ register "+id+" on port 80 in "+site.TG) {
		t.Errorf("run after the operator added us-east-1c: %v, changes %q", err, r.Changes)
	}
}
