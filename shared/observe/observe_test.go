package observe_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/plan"
	"github.com/elbattach/elbattach/shared/state"
)

var (
	_ observe.EC2        = (*fakeaws.EC2)(nil)
	_ observe.ELBv2      = (*fakeaws.ELBv2)(nil)
	_ observe.ClassicELB = (*fakeaws.ClassicELB)(nil)
)

var ctx = context.Background()

func observer(w *fakeaws.World) *observe.Observer {
	return &observe.Observer{EC2: w.EC2(), ELB: w.ELBv2(), CLB: w.ClassicELB(), InstanceNotFoundAttempts: 1}
}

func ref(t *testing.T, raw string) state.Ref {
	t.Helper()
	refs, bad, err := state.ParseRefs(raw)
	if err != nil || bad != nil {
		t.Fatal(err, bad)
	}
	return refs[0]
}

// observeCalls reads the instance, forgets that call, observes it for raw
// and returns the state and the calls Observe made.
func observeCalls(t *testing.T, w *fakeaws.World, id, raw string, full bool) (state.State, []string) {
	t.Helper()
	o := observer(w)
	in, err := o.Instance(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	w.ResetCalls()
	s, err := o.Observe(ctx, in, ref(t, raw), full)
	if err != nil {
		t.Fatal(err)
	}
	return s, w.Calls()
}

// regs prints registrations as "id port state reason".
func regs(rs []state.Registration) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %d %s %s", r.ID, r.Port, r.State, r.Reason))
	}
	return out
}

// wantCalls compares the calls made, in any order: independent reads run at
// once.
func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

var (
	healthy = []string{"elbv2.DescribeTargetGroups", "elbv2.DescribeTags", "elbv2.DescribeLoadBalancers", "elbv2.DescribeTargetHealth"}
	minimal = append(append([]string{}, healthy...), "ec2.DescribeSecurityGroups")
	network = []string{"ec2.DescribeSubnets", "ec2.DescribeRouteTables"}
	// uncovered: the load balancer lacks the instance's AZ, so the target's
	// health is not read (it cannot be in use there; registering is idempotent)
	uncovered = []string{"elbv2.DescribeTargetGroups", "elbv2.DescribeTags", "elbv2.DescribeLoadBalancers", "ec2.DescribeSecurityGroups"}
)

// TestSteadyState: the AZ is covered, the rule is there, the instance is
// registered; Observe reads no network. While the target is not yet healthy
// it reads the security groups too; once it is healthy on the traffic port,
// the load balancer demonstrably reaches it and the groups are not read.
func TestSteadyState(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1a", "web")
	w.AddIngress(site.AppGroup, fakeaws.TCP(80, site.LBGroup))
	w.Register(site.TG, id, 0)
	w.SetTargetHealth(site.TG, id, 80, "initial", "Elb.RegistrationInProgress")

	s, calls := observeCalls(t, w, id, "web", false)
	wantCalls(t, calls, minimal...)
	if s.Network != nil || s.Full {
		t.Errorf("network read in steady state: %+v", s.Network)
	}
	if got, want := regs(s.Target.Registrations), []string{id + " 80 initial Elb.RegistrationInProgress"}; !cmp.Equal(got, want) {
		t.Errorf("registrations %q, want %q", got, want)
	}
	s.Target.Registrations = nil
	want := state.Target{Ref: ref(t, "web"), Name: "web", ARN: site.TG, Protocol: "HTTP", Port: 80, TargetType: "instance",
		HealthCheckPort: "traffic-port", VPC: site.VPC, AllowTag: true}
	if diff := cmp.Diff(want, s.Target); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
	wantLB := state.LoadBalancer{ARN: site.LB, Name: "web-alb", Type: "application", Scheme: "internet-facing", VPC: site.VPC, IPAddressType: "ipv4",
		SecurityGroups: []string{site.LBGroup}, Subnets: []state.LBSubnet{
			{ID: site.Public["us-east-1a"], AZ: "us-east-1a"}, {ID: site.Public["us-east-1b"], AZ: "us-east-1b"}}}
	if time.Since(s.LoadBalancer.ReadAt) > time.Minute {
		t.Errorf("load balancer read at %v", s.LoadBalancer.ReadAt)
	}
	if diff := cmp.Diff(wantLB, s.LoadBalancer, cmpopts.IgnoreFields(state.LoadBalancer{}, "ReadAt")); diff != "" {
		t.Errorf("load balancer (-want +got):\n%s", diff)
	}
	if len(s.InstanceGroups) != 1 || len(s.InstanceGroups[0].Ingress) != 1 || s.InstanceGroups[0].Ingress[0].SourceGroup != site.LBGroup {
		t.Errorf("instance groups: %+v", s.InstanceGroups)
	}
	if len(s.LBGroups) != 1 || s.LBGroups[0].Egress[0].Protocol != "-1" {
		t.Errorf("load balancer groups: %+v", s.LBGroups)
	}

	w.SetTargetHealth(site.TG, id, 80, "healthy", "")
	s, calls = observeCalls(t, w, id, "web", false)
	wantCalls(t, calls, healthy...)
	if len(s.InstanceGroups) != 0 || s.Network != nil {
		t.Errorf("healthy target: groups %v, network %v read", s.InstanceGroups, s.Network)
	}
}

// TestNewAZ: the load balancer lacks the instance's AZ, so the network is
// read and the target's health is not; the route tables name the internet
// gateway, so it is not looked up.
func TestNewAZ(t *testing.T) {
	site := fakeaws.NewSite()
	id := site.Instance("us-east-1c", "web")
	s, calls := observeCalls(t, site.W, id, "web", false)
	wantCalls(t, calls, append(uncovered, network...)...)
	n := s.Network
	if n == nil || n.IGW != site.IGW || len(n.Subnets) != 7 || len(n.RouteTables) != 3 || len(n.CIDRs) != 1 || n.NACLs != nil {
		t.Fatalf("network: %+v", n)
	}
	if !n.IsPublic(site.Public["us-east-1a"]) || n.IsPublic(site.Private["us-east-1c"]) {
		t.Error("public detection")
	}
	if sub, _ := n.Subnet(site.Public["us-east-1a"]); sub.FreeIPs != 27 || sub.Tags["Name"] != "public-a" {
		t.Errorf("subnet: %+v", sub)
	}
	if r := s.Target.Registrations; r != nil {
		t.Errorf("registrations read: %+v", r)
	}
}

// TestNoIGWRoute: no route table names an internet gateway, so it is
// looked up by its attachment.
func TestNoIGWRoute(t *testing.T) {
	w := fakeaws.New()
	vpc := w.AddVPC("10.0.0.0/16", fakeaws.WithIGW())
	a, b := w.AddSubnet(vpc, "us-east-1a", "10.0.0.0/24"), w.AddSubnet(vpc, "us-east-1b", "10.0.1.0/24")
	priv := w.AddSubnet(vpc, "us-east-1c", "10.0.2.0/24")
	sg := w.AddSecurityGroup(vpc, "alb")
	tg := w.AddTargetGroup(vpc, "web", 80, fakeaws.Allowed())
	w.AddLoadBalancer("web", "application", fakeaws.Subnets(a, b), fakeaws.Groups(sg), fakeaws.Forward(80, tg))
	id := w.AddInstance(priv, fakeaws.Groups(sg))
	s, calls := observeCalls(t, w, id, "web", false)
	wantCalls(t, calls, append(append(uncovered, network...), "ec2.DescribeInternetGateways")...)
	if s.Network.IGW != w.IGW(vpc) || s.Network.IsPublic(a) {
		t.Errorf("network: %+v", s.Network)
	}
}

// TestNLBWithoutGroups: an NLB without security groups needs the network
// (the VPC's CIDRs, the nodes' subnets) even when it covers the AZ.
func TestNLBWithoutGroups(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	tg := w.AddTargetGroup(site.VPC, "tcp", 80, fakeaws.Protocol("TCP"), fakeaws.Allowed())
	w.AddLoadBalancer("nlb", "network", fakeaws.Subnets(site.Public["us-east-1a"]), fakeaws.Forward(80, tg))
	id := site.Instance("us-east-1a", "tcp")
	s, calls := observeCalls(t, w, id, "tcp", false)
	// Without groups on the NLB, whether it preserves client IPs decides the
	// peers to open to.
	wantCalls(t, calls, append(append(minimal, network...), "elbv2.DescribeTargetGroupAttributes")...)
	if s.Target.PreserveClientIP != "true" {
		t.Errorf("preserve client IP %q, want true (instance targets' default)", s.Target.PreserveClientIP)
	}
	if s.Network == nil || len(s.LBGroups) != 0 || len(s.InstanceGroups) != 1 {
		t.Errorf("state: network %v, groups %v / %v", s.Network, s.InstanceGroups, s.LBGroups)
	}
	if s.LoadBalancer.Type != "network" || s.LoadBalancer.SubnetIn("us-east-1a") == "" {
		t.Errorf("load balancer: %+v", s.LoadBalancer)
	}
}

// TestClassic: a Classic ELB is read with its tags, and always with the
// network (its subnets' AZs come from there).
func TestClassic(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	w.AddClassicLB("legacy", fakeaws.Subnets(site.Public["us-east-1a"], site.Public["us-east-1b"]), fakeaws.Groups(site.LBGroup),
		fakeaws.ClassicPort(80, 8080), fakeaws.ClassicPort(443, 8443), fakeaws.HealthCheck("HTTP:8081/health"), fakeaws.Allowed())
	id := site.Instance("us-east-1a", "classic/legacy")
	w.RegisterClassic("legacy", id)
	s, calls := observeCalls(t, w, id, "classic/legacy", false)
	wantCalls(t, calls, append([]string{"elb.DescribeLoadBalancers", "elb.DescribeTags", "ec2.DescribeSecurityGroups"}, network...)...)
	tg := s.Target
	if !tg.AllowTag || tg.HealthCheckPort != "8081" || !cmp.Equal(tg.InstancePorts, []int32{8080, 8443}) || !cmp.Equal(tg.ListenerPorts, []int32{80, 443}) ||
		len(tg.Registrations) != 1 || tg.Registrations[0].ID != id {
		t.Errorf("target: %+v", tg)
	}
	if lb := s.LoadBalancer; lb.Type != "classic" || lb.SubnetIn("us-east-1b") != site.Public["us-east-1b"] {
		t.Errorf("load balancer (AZs from the network): %+v", lb)
	}
}

// TestComplete: Complete adds the network ACLs and the listeners, and reads
// the network itself only when Observe did not, then for the checks alone
// (the ACLs and the route tables, for the NAT-route advice: the subnets wait
// for a plan that wants them).
func TestComplete(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	o := observer(w)
	for _, tc := range []struct {
		az         string
		want       []string
		checksOnly bool
	}{
		{"us-east-1a", []string{"ec2.DescribeNetworkAcls", "ec2.DescribeRouteTables", "elbv2.DescribeListeners"}, true},
		{"us-east-1c", []string{"ec2.DescribeNetworkAcls", "elbv2.DescribeListeners"}, false},
	} {
		s, _ := observeCalls(t, w, site.Instance(tc.az, "web"), "web", false)
		w.ResetCalls()
		if err := o.Complete(ctx, &s); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, w.Calls(), tc.want...)
		if !s.Full || !cmp.Equal(s.Target.ListenerPorts, []int32{80}) || !s.Target.ListenersRead || s.NetworkCached || len(s.Network.RouteTables) != 3 ||
			s.Network.ChecksOnly != tc.checksOnly || s.Network.NoSubnets != tc.checksOnly || len(s.Network.NACLs) != 1 || !s.Network.NACLs[0].Default {
			t.Errorf("%s: completed state: full %v, listeners %v (read %v), network (cached %v) %+v", tc.az, s.Full,
				s.Target.ListenerPorts, s.Target.ListenersRead, s.NetworkCached, s.Network)
		}
		if acl := s.Network.NACLs[0]; len(acl.Entries) != 4 || len(acl.Subnets) != 7 {
			t.Errorf("default ACL: %+v", acl)
		}
		w.ResetCalls()
		if err := o.Complete(ctx, &s); err != nil || len(w.Calls()) != 0 {
			t.Errorf("Complete on a full state called %v (%v)", w.Calls(), err)
		}
	}
	_, calls := observeCalls(t, w, site.Instance("us-east-1a", "web"), "web", true)
	wantCalls(t, calls, append(append(append([]string{}, minimal...), network...), "ec2.DescribeNetworkAcls", "elbv2.DescribeListeners")...)
}

// TestFill: what a plan wants is read once: the listener ports (of a state
// Complete did not see), the subnets, the whole network in place of one
// read for the checks alone; what s has already is not read again (its ACLs
// are fresh).
func TestFill(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	o := observer(w)
	s, _ := observeCalls(t, w, site.Instance("us-east-1a", "web"), "web", false)
	w.ResetCalls()
	if err := o.Fill(ctx, &s, state.Wants{ListenerPorts: true}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w.Calls(), "elbv2.DescribeListeners")
	if err := o.Complete(ctx, &s); err != nil {
		t.Fatal(err)
	}
	w.ResetCalls()
	if err := o.Fill(ctx, &s, state.Wants{ListenerPorts: true, FreshACLs: true, Subnets: true}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w.Calls(), "ec2.DescribeSubnets") // the ACLs are fresh already, the listeners read
	if !s.Target.ListenersRead || !cmp.Equal(s.Target.ListenerPorts, []int32{80}) || s.Network.NoSubnets || len(s.Network.Subnets) != 7 {
		t.Errorf("listeners: %v (read %v); network %+v", s.Target.ListenerPorts, s.Target.ListenersRead, s.Network)
	}
	w.ResetCalls()
	if err := o.Fill(ctx, &s, state.Wants{FreshNetwork: true}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w.Calls(), append(append([]string{}, network...), "ec2.DescribeNetworkAcls")...)
	if s.Network.ChecksOnly || len(s.Network.RouteTables) != 3 {
		t.Errorf("whole network: %+v", s.Network)
	}
	w.ResetCalls()
	if err := o.Fill(ctx, &s, state.Wants{ListenerPorts: true, FreshNetwork: true}); err != nil || len(w.Calls()) != 0 {
		t.Errorf("Fill of what s has called %v (%v)", w.Calls(), err)
	}
}

// TestNetworkCache: a warm container reuses the network a run about to
// change something read, for the checks of the next run in a subnet it
// knows; it reads afresh for a subnet it does not know, after ForgetNetwork,
// and when a plan wants it (Fill).
func TestNetworkCache(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	o := observer(w)
	o.TTL = observe.TargetTTL
	complete := func(id string) state.State {
		t.Helper()
		in, err := o.Instance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		s, err := o.Observe(ctx, in, ref(t, "web"), false)
		if err != nil {
			t.Fatal(err)
		}
		w.ResetCalls()
		if err := o.Complete(ctx, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := complete(site.Instance("us-east-1a", "web"))
	if s.NetworkCached || !slices.Contains(w.Calls(), "ec2.DescribeNetworkAcls") {
		t.Fatalf("first run: cached %v, calls %v", s.NetworkCached, w.Calls())
	}
	s = complete(site.Instance("us-east-1a", "web"))
	wantCalls(t, w.Calls(), "elbv2.DescribeLoadBalancers") // the cached load balancer, read again before a change
	if !s.NetworkCached || !s.NACLsCached || len(s.Network.NACLs) != 1 || s.LoadBalancer.SubnetIn("us-east-1a") == "" {
		t.Errorf("second run: cached %v/%v, network %+v, load balancer %+v", s.NetworkCached, s.NACLsCached, s.Network, s.LoadBalancer)
	}
	w.ResetCalls()
	if err := o.Fill(ctx, &s, state.Wants{FreshACLs: true}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w.Calls(), "ec2.DescribeNetworkAcls") // a subnet's CIDR never changes; its ACL may
	if s.NACLsCached || !s.NetworkCached || len(s.Network.NACLs) != 1 {
		t.Errorf("after Fill: cached %v/%v, network %+v", s.NetworkCached, s.NACLsCached, s.Network)
	}
	w.ResetCalls()
	if err := o.Fill(ctx, &s, state.Wants{FreshNetwork: true}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w.Calls(), append(append([]string{}, network...), "ec2.DescribeNetworkAcls")...)
	if s.NetworkCached || s.NACLsCached || s.Network.ChecksOnly || len(s.Network.Subnets) != 7 {
		t.Errorf("after Fill: cached %v/%v, network %+v", s.NetworkCached, s.NACLsCached, s.Network)
	}

	// A new AZ: the subnets and route tables are read for the choice of
	// subnet, the checks take the cached ACLs, and Fill reads the ACLs alone.
	s = complete(site.Instance("us-east-1c", "web"))
	if s.NetworkCached || !s.NACLsCached || slices.Contains(w.Calls(), "ec2.DescribeNetworkAcls") || len(s.Network.NACLs) != 1 {
		t.Errorf("new AZ: cached %v, ACLs cached %v, calls %v", s.NetworkCached, s.NACLsCached, w.Calls())
	}
	w.ResetCalls()
	if err := o.Fill(ctx, &s, state.Wants{FreshACLs: true}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w.Calls(), "ec2.DescribeNetworkAcls")
	if s.NACLsCached || len(s.Network.NACLs) != 1 || len(s.Network.Subnets) != 7 {
		t.Errorf("new AZ after Fill: ACLs cached %v, network %+v", s.NACLsCached, s.Network)
	}

	// A subnet created after the network was cached: read afresh.
	sub := w.AddSubnet(site.VPC, "us-east-1a", "10.0.20.0/24")
	s = complete(w.AddInstance(sub, fakeaws.Groups(site.AppGroup), fakeaws.Tag("elbattach:target", "web")))
	if s.NetworkCached || !slices.Contains(w.Calls(), "ec2.DescribeNetworkAcls") {
		t.Errorf("unknown subnet: cached %v, calls %v", s.NetworkCached, w.Calls())
	}
	o.ForgetNetwork(site.VPC)
	s = complete(site.Instance("us-east-1a", "web"))
	if s.NetworkCached || !slices.Contains(w.Calls(), "ec2.DescribeNetworkAcls") {
		t.Errorf("after ForgetNetwork: cached %v, calls %v", s.NetworkCached, w.Calls())
	}
}

func TestNotFound(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	o := observer(w)
	_, err := o.Instance(ctx, "i-0123456789abcdef0")
	if !errors.Is(err, observe.ErrInstanceNotFound) {
		t.Errorf("unknown instance: %v", err)
	}
	if n := w.Count("ec2.DescribeInstances"); n != 1 {
		t.Errorf("DescribeInstances called %d times, want 1", n)
	}
	in, err := o.Instance(ctx, site.Instance("us-east-1a", "nope"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Observe(ctx, in, ref(t, "nope"), false); !errors.Is(err, observe.ErrTargetNotFound) {
		t.Errorf("unknown target group: %v", err)
	}
	if _, err := o.Observe(ctx, in, ref(t, "classic/nope"), false); !errors.Is(err, observe.ErrTargetNotFound) {
		t.Errorf("unknown classic load balancer: %v", err)
	}
}

// TestRegistrations: a target registered in an AZ the load balancer does not
// cover is unused (Target.NotInUse), one not registered Target.NotRegistered
// (the full state, as diagnose reads it: a minimal one skips the read there).
func TestRegistrations(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	inC := site.Instance("us-east-1c", "web")
	w.Register(site.TG, inC, 0)
	s, _ := observeCalls(t, w, inC, "web", true)
	if got, want := regs(s.Target.Registrations), []string{inC + " 80 unused Target.NotInUse"}; !cmp.Equal(got, want) {
		t.Errorf("registrations %q, want %q", got, want)
	}
	w.SetTargetHealth(site.TG, inC, 80, "draining", "Target.DeregistrationInProgress")
	s, _ = observeCalls(t, w, inC, "web@8080", true)
	if got, want := regs(s.Target.Registrations), []string{inC + " 8080 unused Target.NotRegistered"}; !cmp.Equal(got, want) {
		t.Errorf("registrations on another port %q, want %q", got, want)
	}
}

// TestListedSkipsTags: a target the configuration lists (ALLOWED_TARGETS) is
// allowed whatever its tags say, so they are not read; others' still are.
func TestListedSkipsTags(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	w.AddClassicLB("legacy", fakeaws.Subnets(site.Public["us-east-1a"]), fakeaws.Groups(site.LBGroup), fakeaws.ClassicPort(80, 8080))
	o := observer(w)
	o.Listed = config.Config{AllowedTargets: []string{"web", "legacy"}}.Allowed
	in, err := o.Instance(ctx, site.Instance("us-east-1a", "web"))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"web", "classic/legacy"} {
		w.ResetCalls()
		s, err := o.Observe(ctx, in, ref(t, target), false)
		if err != nil {
			t.Fatal(err)
		}
		if n := w.Count("elbv2.DescribeTags") + w.Count("elb.DescribeTags"); n != 0 || s.Target.AllowTag {
			t.Errorf("%s: %d DescribeTags calls, allow tag %v", target, n, s.Target.AllowTag)
		}
	}
	o.Listed = config.Config{AllowedTargets: []string{"other"}}.Allowed
	w.ResetCalls()
	if s, err := o.Observe(ctx, in, ref(t, "web"), false); err != nil || w.Count("elbv2.DescribeTags") != 1 || !s.Target.AllowTag {
		t.Errorf("unlisted target: %v, calls %v, allow tag %v", err, w.Calls(), s.Target.AllowTag)
	}
}

// TestUDPHealthProvesNothing: health checks are TCP, so a healthy target of a
// UDP target group does not prove the load balancer reaches the instance on
// UDP: the security groups are read.
func TestUDPHealthProvesNothing(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	tg := w.AddTargetGroup(site.VPC, "dns", 53, fakeaws.Protocol("UDP"), fakeaws.Allowed())
	w.AddLoadBalancer("nlb", "network", fakeaws.Subnets(site.Public["us-east-1a"]), fakeaws.Groups(site.LBGroup), fakeaws.Forward(53, tg))
	id := site.Instance("us-east-1a", "dns")
	w.Register(tg, id, 0)
	w.SetTargetHealth(tg, id, 53, "healthy", "")
	s, calls := observeCalls(t, w, id, "dns", false)
	wantCalls(t, calls, minimal...)
	if s.PathProven || len(s.InstanceGroups) != 1 {
		t.Errorf("path proven %v, groups %v", s.PathProven, s.InstanceGroups)
	}
}

// TestPreservedNLBHealthProvesNothing: an NLB without security groups that
// keeps the clients' addresses (instance targets) sends its health checks
// from its nodes but its traffic from the clients: a healthy target proves
// nothing about the clients' rule, so the groups are read and the rule is
// planned (a reviewer's case: the instance's group let in the VPC only).
func TestPreservedNLBHealthProvesNothing(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	tg := w.AddTargetGroup(site.VPC, "tcp", 80, fakeaws.Protocol("TCP"), fakeaws.Allowed())
	w.AddLoadBalancer("nlb", "network", fakeaws.Subnets(site.Public["us-east-1a"]), fakeaws.Forward(80, tg))
	w.AddIngress(site.AppGroup, fakeaws.TCP(80, "10.0.0.0/16")) // the health checks only
	id := site.Instance("us-east-1a", "tcp")
	w.Register(tg, id, 0)
	w.SetTargetHealth(tg, id, 80, "healthy", "")
	s, _ := observeCalls(t, w, id, "tcp", false)
	p, err := plan.Build(s, config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if s.PathProven || !slices.Contains(p.Lines(), "+ allow tcp/80 into "+site.AppGroup+" from 0.0.0.0/0") {
		t.Errorf("path proven %v; plan:\n%s\nwant the clients' rule (NLB_CLIENT_CIDRS)", s.PathProven, p)
	}
}

// TestNLBIPTargetHealthProves: behind an NLB without security groups, a
// healthy ip target proves the path when the target group does not preserve
// client IPs (traffic and health checks both come from the nodes): the
// attribute is read at once with the health, and the groups are not read;
// with preservation on, it proves nothing and they are.
func TestNLBIPTargetHealthProves(t *testing.T) {
	for _, preserve := range []bool{false, true} {
		site := fakeaws.NewSite()
		w := site.W
		tg := w.AddTargetGroup(site.VPC, "ip", 80, fakeaws.Protocol("TCP"), fakeaws.TargetType("ip"), fakeaws.WithPreserveClientIP(preserve), fakeaws.Allowed())
		w.AddLoadBalancer("nlb", "network", fakeaws.Subnets(site.Public["us-east-1a"]), fakeaws.Forward(80, tg))
		id := site.Instance("us-east-1a", "ip")
		ip := w.Instance(id).PrivateIP
		w.Register(tg, ip, 80)
		w.SetTargetHealth(tg, ip, 80, "healthy", "")
		s, calls := observeCalls(t, w, id, "ip", false)
		groups := slices.Contains(calls, "ec2.DescribeSecurityGroups")
		attrs := 0
		for _, c := range calls {
			if c == "elbv2.DescribeTargetGroupAttributes" {
				attrs++
			}
		}
		if s.PathProven == preserve || groups != preserve || attrs != 1 {
			t.Errorf("preserve %v: path proven %v, groups read %v, attribute reads %d (calls %v)", preserve, s.PathProven, groups, attrs, calls)
		}
	}
}
