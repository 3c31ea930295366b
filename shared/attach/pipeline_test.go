package attach_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/awsclient"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/plan"
	"github.com/elbattach/elbattach/shared/state"
)

var (
	_ observe.EC2        = (*fakeaws.EC2)(nil)
	_ observe.ELBv2      = (*fakeaws.ELBv2)(nil)
	_ observe.ClassicELB = (*fakeaws.ClassicELB)(nil)
	_ apply.EC2          = (*fakeaws.EC2)(nil)
	_ apply.ELBv2        = (*fakeaws.ELBv2)(nil)
	_ apply.ClassicELB   = (*fakeaws.ClassicELB)(nil)
)

var ctx = context.Background()

// pipeline is one function instance on w (each concurrent run gets its own,
// as each Lambda container builds its own).
func pipeline(w *fakeaws.World, settle time.Duration) *attach.Pipeline {
	trust := time.Duration(0) // settle/2: the lost-update protection holds
	if settle < 20*time.Millisecond {
		trust = time.Minute // single runs: the call lists do not depend on timing
	}
	return &attach.Pipeline{
		Config:   config.Default(),
		Region:   fakeaws.Region,
		Observer: &observe.Observer{EC2: w.EC2(), ELB: w.ELBv2(), CLB: w.ClassicELB(), InstanceNotFoundAttempts: 1},
		Applier:  &apply.Applier{EC2: w.EC2(), ELB: w.ELBv2(), CLB: w.ClassicELB(), Settle: settle, TrustList: trust},
		Log:      slog.New(slog.DiscardHandler),
	}
}

func attachRun(t *testing.T, w *fakeaws.World, id string, dryRun bool) attach.Report {
	t.Helper()
	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, DryRun: dryRun, Origin: "aws.ec2 running"})
	if err != nil {
		t.Fatalf("run: %v\nreport: %+v", err, r)
	}
	return r
}

// wantCalls compares the calls made, in any order: observe makes its
// independent reads at once (the order of the changes is apply's, tested
// there).
func wantCalls(t *testing.T, w *fakeaws.World, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, w.Calls(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// Call lists of one attach.
var (
	newAZCalls = []string{
		"ec2.DescribeInstances",
		// observe: the target, the groups, the network (the AZ is new, so no registration can be in use)
		"elbv2.DescribeTargetGroups", "elbv2.DescribeTags", "elbv2.DescribeLoadBalancers",
		"ec2.DescribeSecurityGroups", "ec2.DescribeSubnets", "ec2.DescribeRouteTables",
		// complete: there is something to change
		"ec2.DescribeNetworkAcls", "elbv2.DescribeListeners",
		// apply
		"ec2.CreateSubnet", "ec2.AssociateRouteTable",
		"elbv2.SetSubnets", "elbv2.DescribeLoadBalancers", // the observed list is fresh: written as it is, then read back
		"ec2.AuthorizeSecurityGroupIngress", "elbv2.RegisterTargets",
		// no verifying health read: the AZ was read back, the target is new
	}
	steadyCalls = []string{"ec2.DescribeInstances",
		"elbv2.DescribeTargetGroups", "elbv2.DescribeTags", "elbv2.DescribeLoadBalancers", "elbv2.DescribeTargetHealth"}
)

// TestAttachTwice: the first run makes the five changes, the second none.
func TestAttachTwice(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1c", "web")
	r := attachRun(t, w, id, false)
	wantCalls(t, w, newAZCalls...)
	sub := w.LBZones(site.LB)["us-east-1c"]
	want := []string{
		"+ create subnet 10.0.0.64/27 in us-east-1c of " + site.VPC + " (Name=elbattach-public-us-east-1c)",
		"+ associate subnet " + sub + " with public route table " + site.PublicRT,
		"~ add subnet " + sub + " (us-east-1c) to application load balancer " + site.LB,
		"+ allow tcp/80 into " + site.AppGroup + " from " + site.LBGroup,
		"+ register " + id + " on port 80 in " + site.TG,
	}
	if diff := cmp.Diff(want, r.Changes); diff != "" {
		t.Errorf("first run (-want +got):\n%s", diff)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings: %q", r.Warnings)
	}
	if notes := strings.Join(r.Targets[0].Notes, "\n"); r.Targets[0].Health != "" || !strings.Contains(notes, "health not read: us-east-1c was just added") {
		t.Errorf("health %q, notes:\n%s", r.Targets[0].Health, notes)
	}
	if w.Subnet(sub).CIDR != "10.0.0.64/27" || w.RouteTableOf(sub) != site.PublicRT {
		t.Errorf("new subnet %+v in %s", w.Subnet(sub), w.RouteTableOf(sub))
	}

	w.ResetCalls()
	w.SetTargetHealth(site.TG, id, 80, "healthy", "") // the health checks passed
	before := w.Dump()
	r = attachRun(t, w, id, false)
	if len(r.Changes) != 0 || w.Dump() != before {
		t.Errorf("second run changed %q", r.Changes)
	}
	wantCalls(t, w, steadyCalls...)
}

// TestDryRun: a dry run reports the plan, calls nothing that changes
// anything, and leaves the world as it was.
func TestDryRun(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1c", "web")
	before := w.Dump()
	r := attachRun(t, w, id, true)
	if w.Dump() != before {
		t.Error("the world changed")
	}
	for _, op := range w.Calls() {
		if fakeaws.Mutating(op) {
			t.Errorf("dry run called %s", op)
		}
	}
	if !r.DryRun || len(r.Changes) != 5 || !strings.Contains(r.Changes[1], "<new-subnet>") || r.Targets[0].Plan == nil || len(r.Targets[0].Plan.Steps) != 5 {
		t.Errorf("report: %+v", r)
	}
}

// TestStaleRetry: another run creates the same block first (and has not
// routed it yet), then another SetSubnets loses our update; each time the
// run observes again and converges, adopting the other run's subnet.
func TestStaleRetry(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1c", "web")
	var winner string
	var created, overwritten sync.Once
	w.OnCall("ec2.CreateSubnet", func() {
		created.Do(func() {
			winner = w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27", fakeaws.Managed(), fakeaws.Tag("Name", "elbattach-public-us-east-1c"))
		})
	})
	w.AfterCall("elbv2.SetSubnets", func() {
		overwritten.Do(func() { w.SetLBSubnets(site.LB, site.Public["us-east-1a"], site.Public["us-east-1b"]) })
	})
	r := attachRun(t, w, id, false)
	if z := w.LBZones(site.LB); z["us-east-1c"] != winner || len(z) != 3 {
		t.Errorf("load balancer AZs %v, want us-east-1c in %s", z, winner)
	}
	if n := len(w.Subnets(site.VPC)); n != 8 {
		t.Errorf("%d subnets, want 8 (one new)", n)
	}
	counts := map[string]int{}
	for _, c := range w.Calls() {
		counts[c]++
	}
	if counts["ec2.CreateSubnet"] != 1 || counts["elbv2.SetSubnets"] != 2 || counts["ec2.DescribeRouteTables"] != 2 || counts["ec2.DescribeSubnets"] != 3 {
		t.Errorf("calls: %v (want one CreateSubnet, two SetSubnets, two rounds: the conflict adopts in place, the lost update goes round again)", counts)
	}
	want := []string{
		"+ associate subnet " + winner + " with public route table " + site.PublicRT,
		"~ add subnet " + winner + " (us-east-1c) to application load balancer " + site.LB,
		"+ allow tcp/80 into " + site.AppGroup + " from " + site.LBGroup,
		"+ register " + id + " on port 80 in " + site.TG,
	}
	if diff := cmp.Diff(want, r.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

// TestHandler: a manual event through the handler.
func TestHandler(t *testing.T) {
	site := fakeaws.NewSite()
	id := site.Instance("us-east-1a", "web")
	site.W.AddIngress(site.AppGroup, fakeaws.TCP(80, site.LBGroup))
	h := &attach.Handler{Kind: event.StateChange, Pipeline: pipeline(site.W, time.Millisecond), Calls: &awsclient.Counter{}}
	raw, _ := json.Marshal(map[string]any{"instance-id": id, "action": "attach"})
	r, err := h.Handle(ctx, raw)
	if err != nil || len(r.Changes) != 1 || !strings.HasPrefix(r.Changes[0], "+ register "+id) {
		t.Errorf("report %+v, err %v", r, err)
	}
	if _, err := h.Handle(ctx, json.RawMessage(`{"instance-id": "i-0123456789abcdef0", "action": "attach"}`)); !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown instance: %v", err)
	}
}

// TestDetach: a stop deregisters the instance and leaves the subnet and rule.
func TestDetach(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1c", "web")
	attachRun(t, w, id, false)
	w.SetInstanceState(id, "stopped")
	w.ResetCalls()
	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.ec2 stopped"})
	if err != nil || !cmp.Equal(r.Changes, []string{"- deregister " + id + " from port 80 of " + site.TG}) {
		t.Errorf("detach: %q, %v", r.Changes, err)
	}
	// The load balancer is not read: its ARN names it for the report.
	wantCalls(t, w, "ec2.DescribeInstances", "elbv2.DescribeTargetGroups", "elbv2.DescribeTags", "elbv2.DescribeTargetHealth",
		"elbv2.DeregisterTargets")
	if r.Targets[0].LoadBalancer != "web-alb" {
		t.Errorf("detach names load balancer %q, want web-alb", r.Targets[0].LoadBalancer)
	}
	if len(w.TargetGroup(site.TG).Targets) != 0 || len(w.SecurityGroup(site.AppGroup).Ingress) != 1 || len(w.LBZones(site.LB)) != 3 {
		t.Errorf("after detach:\n%s", w.Dump())
	}
}

// TestStaleDetach: a stop event handled after the instance was started again,
// or a tag removal handled after the tag came back, changes nothing (delivery
// is unordered and failed runs are retried minutes later); a manual detach
// still deregisters.
func TestStaleDetach(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1c", "web")
	attachRun(t, w, id, false)
	for _, origin := range []string{"aws.ec2 stopped", "aws.ec2 shutting-down", event.SourceTag} {
		w.ResetCalls()
		r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: origin})
		if err != nil || r.Skipped == "" || len(r.Changes) != 0 {
			t.Errorf("%s on a running, tagged instance: skipped %q, changes %q, %v", origin, r.Skipped, r.Changes, err)
		}
		wantCalls(t, w, "ec2.DescribeInstances")
	}
	w.SetInstanceState(id, "pending")
	if r, _ := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.ec2 stopped"}); !strings.Contains(r.Skipped, "is pending again") {
		t.Errorf("stopped event on a pending instance: skipped %q", r.Skipped)
	}
	if len(w.TargetGroup(site.TG).Targets) != 1 {
		t.Fatalf("stale detach deregistered:\n%s", w.Dump())
	}
	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "manual"})
	if err != nil || len(r.Changes) != 1 || len(w.TargetGroup(site.TG).Targets) != 0 {
		t.Errorf("manual detach: %q, %v\n%s", r.Changes, err, w.Dump())
	}
}

// TestStaleAttach: a "running" event whose instance reads back as pending
// (EC2's eventual consistency right after launch) fails with ErrNotReady, for
// Lambda to retry, instead of being dropped as stale; a "running" event for
// an instance that is stopped now, or a tag change on a pending instance
// (its "running" event follows), is skipped and changes nothing.
func TestStaleAttach(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1a", "web", fakeaws.State("pending"))
	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if !errors.Is(err, attach.ErrNotReady) || attach.Permanent(err) || r.Skipped != "" {
		t.Errorf("running event, instance still pending: %v (permanent %v), skipped %q; want ErrNotReady, retried", err, attach.Permanent(err), r.Skipped)
	}
	r, err = pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: event.SourceTag})
	if err != nil || !strings.Contains(r.Skipped, "is pending now") {
		t.Errorf("tag change on a pending instance: %v, skipped %q", err, r.Skipped)
	}
	w.SetInstanceState(id, "stopped")
	r, err = pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if err != nil || !strings.Contains(r.Skipped, "is stopped now") {
		t.Errorf("late running event on a stopped instance: %v, skipped %q", err, r.Skipped)
	}
	if n := len(w.TargetGroup(site.TG).Targets); n != 0 {
		t.Errorf("%d targets registered, want none", n)
	}
}

// TestRetag: a tag change from web to api attaches to api and deregisters
// from web, which the tag no longer names; a target elbattach does not
// manage is left alone.
func TestRetag(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	api := w.AddTargetGroup(site.VPC, "api", 8080, fakeaws.Allowed())
	w.AddLoadBalancer("api-alb", "application", fakeaws.Subnets(site.Public[fakeaws.Zones[0]], site.Public[fakeaws.Zones[1]]),
		fakeaws.Groups(site.LBGroup), fakeaws.Forward(80, api))
	other := w.AddTargetGroup(site.VPC, "other", 80) // not opted in
	id := site.Instance(fakeaws.Zones[0], "web")
	attachRun(t, w, id, false)
	w.Register(other, id, 80)
	apiTag := "api"
	w.SetInstanceTag(id, "elbattach:target", &apiTag)

	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: event.SourceTag})
	if err != nil {
		t.Fatalf("run: %v\n%+v", err, r)
	}
	if len(w.TargetGroup(site.TG).Targets) != 0 || len(w.TargetGroup(api).Targets) != 1 || len(w.TargetGroup(other).Targets) != 1 {
		t.Errorf("after retag web -> api:\n%s", w.Dump())
	}
	if !slices.Contains(w.Calls(), "elb.DescribeLoadBalancers") {
		t.Errorf("retag did not sweep the Classic ELBs: calls %v", w.Calls())
	}
	if want := "- deregister " + id + " from port 80 of " + site.TG; !slices.Contains(r.Changes, want) {
		t.Errorf("changes %q lack %q", r.Changes, want)
	}

	// A new port for the same target group: registered there, and taken off
	// the old one.
	apiPort := "api@9090"
	w.SetInstanceTag(id, "elbattach:target", &apiPort)
	r, err = pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: event.SourceTag})
	if err != nil {
		t.Fatalf("run: %v\n%+v", err, r)
	}
	if ts := w.TargetGroup(api).Targets; len(ts) != 1 || ts[0].Port != 9090 {
		t.Errorf("after retag api -> api@9090: %+v (changes %q)", ts, r.Changes)
	}
	w.SetInstanceTag(id, "elbattach:target", &apiTag)
	if _, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: event.SourceTag}); err != nil {
		t.Fatal(err)
	}

	// A launch event names no old value: it never sweeps.
	w.Register(site.TG, id, 80)
	w.ResetCalls()
	if _, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"}); err != nil {
		t.Fatal(err)
	}
	if len(w.TargetGroup(site.TG).Targets) != 1 {
		t.Errorf("launch event deregistered from web:\n%s", w.Dump())
	}
	if slices.Contains(w.Calls(), "elb.DescribeLoadBalancers") {
		t.Errorf("launch event swept the Classic ELBs: calls %v", w.Calls())
	}
}

// TestUntaggedStop: a stop of an instance without the tag costs one call,
// like an untagged launch, even when a removed tag left it registered; the
// tag-removal event sweeps the managed targets.
func TestUntaggedStop(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance(fakeaws.Zones[0], "web")
	attachRun(t, w, id, false)
	w.SetInstanceTag(id, "elbattach:target", nil)
	w.SetInstanceState(id, "stopped")
	w.ResetCalls()
	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.ec2 stopped"})
	if err != nil || r.Skipped == "" {
		t.Fatalf("untagged stop: skipped %q, %v", r.Skipped, err)
	}
	wantCalls(t, w, "ec2.DescribeInstances")
	r, err = pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: event.SourceTag})
	if err != nil || len(r.Changes) != 1 || len(w.TargetGroup(site.TG).Targets) != 0 {
		t.Errorf("tag removal: changes %q, %v\n%s", r.Changes, err, w.Dump())
	}
}

// TestBadTagElement: an element of the tag that names no valid target fails
// on its own (the report says which and why; the error is for good) and the
// targets named beside it are attached. A tag change does not deregister from
// the targets the tag no longer names while an element is bad: it may be the
// one it meant. For the same reason a stop or a termination leaves every
// target elbattach manages, not only those named.
func TestBadTagElement(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1a", "web,web_old")
	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if !errors.Is(err, state.ErrBadTargetTag) || !attach.Permanent(err) || len(r.Targets) != 2 || r.Targets[0].Target != "web_old" ||
		!strings.Contains(r.Targets[0].Error, "web_old") || r.Targets[1].Error != "" {
		t.Fatalf("attach: %v (permanent %v), targets %+v", err, attach.Permanent(err), r.Targets)
	}
	if !slices.Contains(r.Changes, "+ register "+id+" on port 80 in "+site.TG) {
		t.Errorf("web not attached beside the bad element: changes %q", r.Changes)
	}

	api := w.AddTargetGroup(site.VPC, "api", 80, fakeaws.Allowed())
	w.Register(api, id, 80)
	w.SetInstanceTag(id, "elbattach:target", aws.String("web,api_v2"))
	r, _ = pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: event.SourceTag})
	if len(w.TargetGroup(api).Targets) != 1 || !slices.ContainsFunc(r.Warnings, func(s string) bool { return strings.Contains(s, "left as they are") }) {
		t.Errorf("tag change with a bad element: api targets %v, warnings %q; want api kept, and a warning", w.TargetGroup(api).Targets, r.Warnings)
	}

	// A manual detach of the running instance keeps to the targets named.
	r, _ = pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "manual", DryRun: true})
	if slices.ContainsFunc(r.Changes, func(c string) bool { return strings.Contains(c, api) }) || !slices.ContainsFunc(r.Changes, func(c string) bool { return strings.Contains(c, site.TG) }) {
		t.Errorf("manual detach with a bad element: changes %q; want web only", r.Changes)
	}

	asg := &fakeASG{}
	p := fastPipeline(w, asg)
	r, err = p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.autoscaling",
		Lifecycle: &event.Lifecycle{Group: "asg", Hook: "terminate", Token: "t", Transition: "autoscaling:EC2_INSTANCE_TERMINATING"}})
	if err != nil || len(w.TargetGroup(site.TG).Targets) != 0 || !slices.Equal(asg.completed, []string{"terminate:CONTINUE"}) || r.Error == "" {
		t.Errorf("terminate: %v, web targets %v, completed %v, report error %q; want web deregistered, the action completed, the bad element reported",
			err, w.TargetGroup(site.TG).Targets, asg.completed, r.Error)
	}
	// api_v2 may have meant api: the terminating instance leaves it too (a
	// reviewer's case: it stayed registered, undrained).
	if n := len(w.TargetGroup(api).Targets); n != 0 {
		t.Errorf("terminate with a bad element: still in api %v", w.TargetGroup(api).Targets)
	}
}

// TestForeignRegionTarget: a target group ARN of another region is refused
// by name, without a call for it, whatever the action; the target beside it
// is handled.
func TestForeignRegionTarget(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	foreign := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	id := site.Instance("us-east-1a", "web,"+foreign)
	for _, tc := range []struct {
		action event.Action
		origin string
	}{{event.Attach, "aws.ec2 running"}, {event.Diagnose, "manual"}, {event.Detach, "manual"}} {
		r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: tc.action, Origin: tc.origin})
		if !errors.Is(err, attach.ErrForeignRegion) || !attach.Permanent(err) || len(r.Targets) != 2 || r.Targets[0].Error != "" || r.Targets[1].Changes == nil ||
			!strings.Contains(r.Targets[1].Error, "is in eu-west-1, this function runs in us-east-1") {
			t.Errorf("%s: %v, targets %+v", tc.action, err, r.Targets)
		}
	}
}

// TestUnroutedRouteTableFinished: a run that created elbattach's route table
// and then failed to route it (CreateRoute refused) leaves it unrouted; the
// next run routes that one and finishes the subnet with it, rather than
// creating another route table.
func TestUnroutedRouteTableFinished(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	w.DeleteRoute(site.PublicRT, "0.0.0.0/0") // the VPC has no public route table
	id := site.Instance("us-east-1c", "web")
	w.FailNext("ec2.CreateRoute", fakeaws.Err("UnauthorizedOperation", "not now"))
	if _, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"}); err == nil {
		t.Fatal("first run: no error, want CreateRoute's")
	}
	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if err != nil {
		t.Fatalf("second run: %v\nreport: %+v", err, r)
	}
	var managed []fakeaws.RouteTable
	for _, rt := range w.RouteTables(site.VPC) {
		if rt.Tags["elbattach:managed"] == "true" {
			managed = append(managed, rt)
		}
	}
	sub := w.LBZones(site.LB)["us-east-1c"]
	if len(managed) != 1 || w.RouteTableOf(sub) != managed[0].ID || !slices.ContainsFunc(managed[0].Routes, func(r fakeaws.Route) bool {
		return r.Dest == "0.0.0.0/0" && r.Target == site.IGW
	}) {
		t.Errorf("managed route tables %+v; the load balancer's us-east-1c subnet %q in %q: want one, routed to %s, governing it",
			managed, sub, w.RouteTableOf(sub), site.IGW)
	}
	if w.Count("ec2.CreateRouteTable") != 1 {
		t.Errorf("%d CreateRouteTable calls, want 1", w.Count("ec2.CreateRouteTable"))
	}
}

// TestConflictDoesNotAdoptTurnedDown: through the pipeline, the plan turns
// down elbattach's subnet in the AZ that is routed privately now and creates
// a block; another AZ's run takes that block first; the run creates the next
// one rather than adopting the subnet it turned down.
func TestConflictDoesNotAdoptTurnedDown(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	turnedDown := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.128/27", fakeaws.Managed())
	w.Associate(site.PrivRT, turnedDown)
	var once sync.Once
	w.OnCall("ec2.CreateSubnet", func() {
		once.Do(func() { w.AddSubnet(site.VPC, "us-east-1d", "10.0.0.64/27", fakeaws.Managed()) })
	})
	r, err := pipeline(w, time.Millisecond).Run(ctx, event.Trigger{InstanceID: site.Instance("us-east-1c", "web"), Action: event.Attach, Origin: "aws.ec2 running"})
	if z := w.LBZones(site.LB)["us-east-1c"]; err != nil || z == turnedDown || w.RouteTableOf(z) != site.PublicRT {
		t.Errorf("err %v, changes %q: the load balancer's us-east-1c subnet %s (route table %s), want a new public one", err, r.Changes, z, w.RouteTableOf(z))
	}
}

// TestAllowedClassicByTagSpelling: ALLOWED_TARGETS may name a Classic ELB as
// the tag does, classic/<name>, or by its bare name: either way it is
// attached and, once the tag is gone, detached (a reviewer's case: the
// classic/ spelling was refused on attach and left alone on detach).
func TestAllowedClassicByTagSpelling(t *testing.T) {
	for _, listed := range []string{"classic/legacy", "legacy"} {
		s := fakeaws.NewSite()
		w := s.W
		clb := w.AddClassicLB("legacy", fakeaws.Subnets(s.Public[fakeaws.Zones[0]]), fakeaws.Groups(s.LBGroup), fakeaws.ClassicPort(80, 80))
		id := s.Instance(fakeaws.Zones[0], "classic/legacy")
		p := pipeline(w, time.Millisecond)
		p.Config.AllowedTargets = []string{listed}
		p.Observer.Listed = p.Config.Allowed
		if r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"}); err != nil || !slices.Contains(w.ClassicLB(clb).Instances, id) {
			t.Fatalf("ALLOWED_TARGETS=%s: attach %v, changes %q", listed, err, r.Changes)
		}
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Diagnose, Origin: "manual"})
		if err != nil || len(r.Targets) != 1 || !slices.ContainsFunc(r.Targets[0].Diagnosis, func(c plan.Check) bool { return c.Check == "target opted in" && c.OK }) {
			t.Errorf("ALLOWED_TARGETS=%s: diagnose %v, %+v; want the target opted in", listed, err, r.Targets)
		}
		w.SetInstanceTag(id, "elbattach:target", nil)
		if r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: event.SourceTag}); err != nil || slices.Contains(w.ClassicLB(clb).Instances, id) {
			t.Errorf("ALLOWED_TARGETS=%s: detach after the tag's removal %v, warnings %q", listed, err, r.Warnings)
		}
	}
}
