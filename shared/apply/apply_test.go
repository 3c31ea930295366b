package apply_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/plan"
)

var (
	_ apply.EC2        = (*fakeaws.EC2)(nil)
	_ apply.ELBv2      = (*fakeaws.ELBv2)(nil)
	_ apply.ClassicELB = (*fakeaws.ClassicELB)(nil)
)

var ctx = context.Background()

func applier(w *fakeaws.World) *apply.Applier {
	return &apply.Applier{EC2: w.EC2(), ELB: w.ELBv2(), CLB: w.ClassicELB(), Settle: time.Millisecond, Backoff: time.Millisecond}
}

func run(t *testing.T, w *fakeaws.World, steps ...plan.Step) []string {
	t.Helper()
	done, err := applier(w).Run(ctx, plan.Plan{Steps: steps})
	if err != nil {
		t.Fatalf("Run: %v (done %q)", err, done)
	}
	return done
}

func wantCalls(t *testing.T, w *fakeaws.World, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, w.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// newAZ is the plan for an instance in us-east-1c of a Site: a new subnet,
// routed, added, the group opened, the instance registered.
func newAZ(site *fakeaws.Site, instance string) []plan.Step {
	return []plan.Step{
		{Op: plan.CreateSubnet, VPC: site.VPC, AZ: "us-east-1c", CIDR: "10.0.0.64/27",
			Tags: map[string]string{"Name": "elbattach-public-us-east-1c", config.ManagedTagKey: "true"}},
		{Op: plan.AssociateRouteTable, Subnet: plan.NewSubnet, RouteTable: site.PublicRT},
		{Op: plan.AddSubnet, Subnet: plan.NewSubnet, AZ: "us-east-1c", LoadBalancer: site.LB, LoadBalancerType: "application",
			Subnets: []string{site.Public["us-east-1a"], site.Public["us-east-1b"], plan.NewSubnet}},
		{Op: plan.AuthorizeIngress, Group: site.AppGroup, SourceGroup: site.LBGroup, Protocol: "tcp", Port: 80, Description: plan.RuleDescription},
		{Op: plan.Register, TargetGroup: site.TG, TargetID: instance, Port: 80},
	}
}

// TestNewSubnetHandOff: the created subnet's ID replaces <new-subnet> in the
// association and in the subnet list sent to SetSubnets.
func TestNewSubnetHandOff(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1c", "web")
	done := run(t, w, newAZ(site, id)...)
	subs := w.Subnets(site.VPC)
	created := subs[len(subs)-1]
	if created.CIDR != "10.0.0.64/27" || created.AZ != "us-east-1c" || created.Tags[config.ManagedTagKey] != "true" {
		t.Fatalf("created subnet: %+v", created)
	}
	want := []string{
		"+ create subnet 10.0.0.64/27 in us-east-1c of " + site.VPC + " (Name=elbattach-public-us-east-1c)",
		"+ associate subnet " + created.ID + " with public route table " + site.PublicRT,
		"~ add subnet " + created.ID + " (us-east-1c) to application load balancer " + site.LB,
		"+ allow tcp/80 into " + site.AppGroup + " from " + site.LBGroup,
		"+ register " + id + " on port 80 in " + site.TG,
	}
	if diff := cmp.Diff(want, done); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	wantCalls(t, w, "ec2.CreateSubnet", "ec2.AssociateRouteTable", "elbv2.DescribeLoadBalancers", "elbv2.SetSubnets",
		"elbv2.DescribeLoadBalancers", "ec2.AuthorizeSecurityGroupIngress", "elbv2.RegisterTargets")
	set := w.Inputs("elbv2.SetSubnets")[0].(*elbv2.SetSubnetsInput)
	if want := []string{site.Public["us-east-1a"], site.Public["us-east-1b"], created.ID}; !cmp.Equal(set.Subnets, want) {
		t.Errorf("SetSubnets %v, want %v", set.Subnets, want)
	}
	if got := w.RouteTableOf(created.ID); got != site.PublicRT {
		t.Errorf("route table %s, want %s", got, site.PublicRT)
	}
	if got := w.LBZones(site.LB)["us-east-1c"]; got != created.ID {
		t.Errorf("load balancer subnet in us-east-1c: %q", got)
	}
	rules := w.SecurityGroup(site.AppGroup).Ingress
	if len(rules) != 1 || rules[0] != (fakeaws.Rule{Protocol: "tcp", From: 80, To: 80, Group: site.LBGroup, Description: plan.RuleDescription}) {
		t.Errorf("ingress: %+v", rules)
	}
	if tg := w.TargetGroup(site.TG); len(tg.Targets) != 1 || tg.Targets[0].ID != id || tg.Targets[0].Port != 80 {
		t.Errorf("targets: %+v", tg.Targets)
	}
}

// TestNewRouteTable: a created route table routes to the internet gateway
// and its ID replaces <new-route-table>.
func TestNewRouteTable(t *testing.T) {
	w := fakeaws.New()
	vpc := w.AddVPC("10.0.0.0/16", fakeaws.WithIGW())
	done := run(t, w,
		plan.Step{Op: plan.CreateRouteTable, VPC: vpc, IGW: w.IGW(vpc), Tags: map[string]string{config.ManagedTagKey: "true"}},
		plan.Step{Op: plan.CreateSubnet, VPC: vpc, AZ: "us-east-1a", CIDR: "10.0.0.0/27"},
		plan.Step{Op: plan.AssociateRouteTable, Subnet: plan.NewSubnet, RouteTable: plan.NewRouteTable})
	sub := w.Subnets(vpc)[0].ID
	rt := w.RouteTable(w.RouteTableOf(sub))
	if rt.Main || rt.Tags[config.ManagedTagKey] != "true" || !slices.Contains(rt.Routes, fakeaws.Route{Dest: "0.0.0.0/0", Target: w.IGW(vpc)}) {
		t.Errorf("route table: %+v", rt)
	}
	if len(done) != 3 || !strings.Contains(done[2], sub) || !strings.Contains(done[2], rt.ID) {
		t.Errorf("changes %q", done)
	}
	wantCalls(t, w, "ec2.CreateRouteTable", "ec2.CreateRoute", "ec2.CreateSubnet", "ec2.AssociateRouteTable")
}

// TestAlreadyThere: an association, a load balancer subnet or a rule that
// exists is success, and not reported as a change. (RegisterTargets cannot
// tell: AWS answers success either way; the plan leaves registered targets out.)
func TestAlreadyThere(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1a", "web")
	sub := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27")
	w.Associate(site.PublicRT, sub)
	w.AddIngress(site.AppGroup, fakeaws.TCP(80, site.LBGroup))
	w.AddEgress(site.LBGroup, fakeaws.TCP(80, site.AppGroup))
	w.Register(site.TG, id, 0)
	before := w.Dump()
	done := run(t, w,
		plan.Step{Op: plan.AssociateRouteTable, Subnet: sub, RouteTable: site.PublicRT},
		plan.Step{Op: plan.AddSubnet, Subnet: site.Public["us-east-1a"], AZ: "us-east-1a", LoadBalancer: site.LB, LoadBalancerType: "application"},
		plan.Step{Op: plan.AuthorizeIngress, Group: site.AppGroup, SourceGroup: site.LBGroup, Protocol: "tcp", Port: 80, Description: "other text"},
		plan.Step{Op: plan.AuthorizeEgress, Group: site.LBGroup, DestGroup: site.AppGroup, Protocol: "tcp", Port: 80})
	if len(done) != 0 {
		t.Errorf("changes %q, want none", done)
	}
	if w.Dump() != before {
		t.Error("the world changed")
	}
	if w.Count("elbv2.SetSubnets") != 0 {
		t.Error("SetSubnets called for a subnet the load balancer has")
	}
}

// TestCreateSubnetConflict: another run took the block: ErrStale, so that
// the caller observes again.
func TestCreateSubnetConflict(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27")
	done, err := applier(w).Run(ctx, plan.Plan{Steps: newAZ(site, site.Instance("us-east-1c", "web"))})
	if !errors.Is(err, apply.ErrStale) || !strings.Contains(err.Error(), awserr.SubnetConflict) || len(done) != 0 {
		t.Errorf("err %v, done %q; want ErrStale with InvalidSubnet.Conflict and nothing done", err, done)
	}
	wantCalls(t, w, "ec2.CreateSubnet")
}

// TestErrors: AWS refusals map to elbattach's errors; an injected failure
// stops the run and reports what was done before it.
func TestErrors(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	stopped := site.Instance("us-east-1a", "web", fakeaws.State("stopped"))
	full := w.AddSecurityGroup(site.VPC, "full")
	for port := range int32(60) {
		w.AddIngress(full, fakeaws.TCP(1000+port, "10.0.0.0/16"))
	}
	acl := w.DefaultNACL(site.VPC)
	tests := []struct {
		name string
		step plan.Step
		want error
	}{
		{"stopped instance", plan.Step{Op: plan.Register, TargetGroup: site.TG, TargetID: stopped, Port: 80}, plan.ErrNotRunning},
		{"rule quota", plan.Step{Op: plan.AuthorizeIngress, Group: full, SourceGroup: site.LBGroup, Protocol: "tcp", Port: 80}, plan.ErrRuleLimit},
		{"ACL rule number taken", plan.Step{Op: plan.AddNACLEntry, NACL: acl, RuleNumber: 100, Protocol: "6", FromPort: 80, ToPort: 80, SourceCIDR: "0.0.0.0/0"}, apply.ErrStale},
	}
	for _, tc := range tests {
		if _, err := applier(w).Run(ctx, plan.Plan{Steps: []plan.Step{tc.step}}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	w.FailNext("ec2.CreateSubnet", fakeaws.Err("SubnetLimitExceeded", "The maximum number of subnets has been reached."))
	if _, err := applier(w).Run(ctx, plan.Plan{Steps: newAZ(site, stopped)[:1]}); !errors.Is(err, plan.ErrSubnetLimit) {
		t.Errorf("subnet quota: %v", err)
	}
	w.FailNext("ec2.AuthorizeSecurityGroupIngress", fakeaws.Err("UnauthorizedOperation", "You are not authorized to perform this operation."))
	done, err := applier(w).Run(ctx, plan.Plan{Steps: newAZ(site, site.Instance("us-east-1c", "web"))})
	if !awserr.Is(err, "UnauthorizedOperation") || errors.Is(err, apply.ErrStale) || len(done) != 3 {
		t.Errorf("injected failure: %v, done %q", err, done)
	}
}
