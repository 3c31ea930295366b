package attach_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/state"
)

// restrictClients moves the ALB's public subnet in us-east-1a to a network
// ACL that lets clients in on port 443 alone (the listener is on 80), and
// everything from inside the VPC and out.
func restrictClients(s *fakeaws.Site) string {
	acl := s.W.AddNACL(s.VPC, fakeaws.Subnets(s.Public["us-east-1a"]))
	for _, e := range []fakeaws.NACLEntry{
		{Number: 100, Protocol: "6", CIDR: "0.0.0.0/0", From: 443, To: 443, Allow: true},
		{Number: 110, Protocol: "-1", CIDR: "10.0.0.0/16", Allow: true},
		{Number: 120, Protocol: "6", CIDR: "0.0.0.0/0", From: 1024, To: 65535, Allow: true},
		{Number: 100, Egress: true, Protocol: "-1", CIDR: "0.0.0.0/0", Allow: true},
	} {
		s.W.AddNACLEntry(acl, e)
	}
	return acl
}

func listenerWarning(warnings []string) bool {
	return slices.ContainsFunc(warnings, func(w string) bool {
		return strings.Contains(w, "inbound tcp/80 from 0.0.0.0/0 (clients to the listener)")
	})
}

// TestClientsACLFinding: in a covered AZ whose public subnet's network ACL
// does not let every port in from clients, the plan wants the subnets'
// CIDRs: they are read (once, as the listeners are) and the missing rule on
// the listener port is named. With the default ACL (TestWarmContainer) the
// subnets are not read.
func TestClientsACLFinding(t *testing.T) {
	s := fakeaws.NewSite()
	restrictClients(s)
	id := s.Instance("us-east-1a", "web")
	r, err := pipeline(s.W, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if err != nil {
		t.Fatalf("run: %v\nreport: %+v", err, r)
	}
	if n, m := s.W.Count("elbv2.DescribeListeners"), s.W.Count("ec2.DescribeSubnets"); n != 1 || m != 1 || !listenerWarning(r.Warnings) {
		t.Errorf("DescribeListeners %d times, DescribeSubnets %d, want 1 each; warnings %q", n, m, r.Warnings)
	}
}

// TestCachedNetworkFinding: a warm container's cached network serves the
// checks, but what they find wrong in it is read again before it is said:
// the operator fixed the ACL meanwhile, so the second run warns of nothing.
func TestCachedNetworkFinding(t *testing.T) {
	s := fakeaws.NewSite()
	acl := restrictClients(s)
	p := pipeline(s.W, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
	run := func() []string {
		t.Helper()
		s.W.ResetCalls()
		r, err := p.Run(ctx, event.Trigger{InstanceID: s.Instance("us-east-1a", "web"), Action: event.Attach, Origin: "aws.ec2 running"})
		if err != nil {
			t.Fatalf("run: %v\nreport: %+v", err, r)
		}
		return r.Warnings
	}
	if w := run(); !listenerWarning(w) {
		t.Fatalf("first run: warnings %q", w)
	}
	s.W.AddNACLEntry(acl, fakeaws.NACLEntry{Number: 90, Protocol: "6", CIDR: "0.0.0.0/0", From: 80, To: 80, Allow: true})
	if w := run(); listenerWarning(w) || s.W.Count("ec2.DescribeNetworkAcls") != 1 || s.W.Count("elbv2.DescribeListeners") != 0 {
		t.Errorf("second run: warnings %q, calls %v: want the ACLs read again, the listeners from the cache", w, s.W.Calls())
	}
	if w := run(); listenerWarning(w) || s.W.Count("ec2.DescribeNetworkAcls") != 0 {
		t.Errorf("third run: warnings %q, calls %v: want the fresh network from the cache", w, s.W.Calls())
	}
}

// TestWantsAfterFill: the plan is built again on what Fill reads (here: a
// finding in the cached instance ACL sends the run for fresh ACLs, which
// show the public subnet's ACL now restricting clients): the pipeline warns
// and fixes on the fresh ACLs, with the listener ports the first run cached.
func TestWantsAfterFill(t *testing.T) {
	for _, fix := range []bool{false, true} {
		s := fakeaws.NewSite()
		priv := s.W.AddNACL(s.VPC, fakeaws.Subnets(s.Private["us-east-1a"]))
		for _, e := range []fakeaws.NACLEntry{
			{Number: 100, Protocol: "-1", CIDR: "0.0.0.0/0", Allow: true},
			{Number: 50, Egress: true, Protocol: "6", CIDR: "10.0.0.0/27", From: 1024, To: 2000}, // the operator's deny: a warning, even with FIX_NACLS
			{Number: 100, Egress: true, Protocol: "-1", CIDR: "0.0.0.0/0", Allow: true},
		} {
			s.W.AddNACLEntry(priv, e)
		}
		p := pipeline(s.W, time.Millisecond)
		p.Config.FixNACLs = fix
		p.Observer.TTL = observe.TargetTTL
		run := func() attach.Report {
			t.Helper()
			s.W.ResetCalls()
			r, err := p.Run(ctx, event.Trigger{InstanceID: s.Instance("us-east-1a", "web"), Action: event.Attach, Origin: "aws.ec2 running"})
			if err != nil {
				t.Fatalf("run: %v\nreport: %+v", err, r)
			}
			return r
		}
		run() // caches the network
		restrictClients(s)
		r := run()
		fixed := slices.ContainsFunc(r.Changes, func(c string) bool { return strings.Contains(c, "allow tcp/80-80 inbound from 0.0.0.0/0") })
		if (fix && !fixed) || (!fix && !listenerWarning(r.Warnings)) || s.W.Count("elbv2.DescribeListeners") != 0 || s.W.Count("ec2.DescribeNetworkAcls") != 1 {
			t.Errorf("FIX_NACLS=%v: changes %q, warnings %q, calls %v: want the listener port's rule fixed or warned about",
				fix, r.Changes, r.Warnings, s.W.Calls())
		}
	}
}

// TestUnhealthyDiagnosisFresh: the diagnosis that comes with a target still
// unhealthy after WAIT_HEALTHY_SECONDS reads everything afresh, not the warm
// container's cached network: an ACL the operator fixed meanwhile passes.
func TestUnhealthyDiagnosisFresh(t *testing.T) {
	s := fakeaws.NewSite()
	priv := s.W.AddNACL(s.VPC, fakeaws.Subnets(s.Private["us-east-1a"]))
	s.W.AddNACLEntry(priv, fakeaws.NACLEntry{Number: 100, Protocol: "-1", CIDR: "0.0.0.0/0", Allow: true})
	s.W.AddNACLEntry(priv, fakeaws.NACLEntry{Number: 100, Egress: true, Protocol: "6", CIDR: "0.0.0.0/0", From: 443, To: 443, Allow: true})
	p := fastPipeline(s.W, nil)
	p.Observer.TTL = observe.TargetTTL
	if _, err := p.Run(ctx, event.Trigger{InstanceID: s.Instance("us-east-1a", "web"), Action: event.Attach, Origin: "manual"}); err != nil {
		t.Fatal(err)
	}
	s.W.AddNACLEntry(priv, fakeaws.NACLEntry{Number: 90, Egress: true, Protocol: "-1", CIDR: "0.0.0.0/0", Allow: true}) // fixed
	id := s.Instance("us-east-1a", "web")
	s.W.Register(s.TG, id, 80)
	s.W.SetTargetHealth(s.TG, id, 80, "unhealthy", "Target.Timeout")
	p.Config.WaitHealthy = 10 * time.Millisecond
	r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
	if err != nil || len(r.Targets) != 1 || len(r.Targets[0].Diagnosis) == 0 {
		t.Fatalf("err %v, report %+v", err, r)
	}
	for _, c := range r.Targets[0].Diagnosis {
		if strings.Contains(c.Check, "network ACL") && !c.OK {
			t.Errorf("diagnosis on cached facts: %s", c)
		}
	}
}

// TestChangedNetworkForgotten: a run that changed the network (FIX_NACLS
// added ACL entries) forgets the cached network: the next Complete on the
// container reads it again, though the cache knows every subnet. (A run that
// only registers keeps it: the second Complete reads none.)
func TestChangedNetworkForgotten(t *testing.T) {
	s := fakeaws.NewSite()
	restrictClients(s)
	p := pipeline(s.W, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
	networkReads := func() int {
		t.Helper()
		in, err := p.Observer.Instance(ctx, s.Instance("us-east-1a", "web"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.Observer.Observe(ctx, in, state.Ref{Raw: "web", Name: "web"}, false)
		if err != nil {
			t.Fatal(err)
		}
		s.W.ResetCalls()
		if err := p.Observer.Complete(ctx, &st); err != nil {
			t.Fatal(err)
		}
		return s.W.Count("ec2.DescribeSubnets") + s.W.Count("ec2.DescribeNetworkAcls")
	}
	for _, fix := range []bool{false, true} {
		p.Config.FixNACLs = fix
		r, err := p.Run(ctx, event.Trigger{InstanceID: s.Instance("us-east-1a", "web"), Action: event.Attach, Origin: "aws.ec2 running"})
		if err != nil {
			t.Fatalf("FIX_NACLS=%v: %v", fix, err)
		}
		if n := networkReads(); (n == 0) != !fix {
			t.Errorf("FIX_NACLS=%v (changes %q): the next Complete read the network %d times", fix, r.Changes, n)
		}
	}
}

// TestCacheHalvesOfDifferentAges: a warm container's cache refreshes its
// network's ACLs and subnets apart (Fill), so a subnet one of them names can
// be newer than the other. An instance in such a subnet is checked on a fresh
// read, never on the default ACL the stale half falls back to (a reviewer's
// two cases: the subnets newer than the ACLs, and the ACLs newer than the
// subnets).
func TestCacheHalvesOfDifferentAges(t *testing.T) {
	closedACL := func(s *fakeaws.Site, subnet string) string { // no entries: AWS denies all
		return s.W.AddNACL(s.VPC, fakeaws.Subnets(subnet))
	}
	vpcOnly := func(s *fakeaws.Site, subnet string) string { // not open to 0.0.0.0/0, but the path's rules are there
		acl := s.W.AddNACL(s.VPC, fakeaws.Subnets(subnet))
		s.W.AddNACLEntry(acl, fakeaws.NACLEntry{Number: 100, Protocol: "-1", CIDR: "10.0.0.0/16", Allow: true})
		s.W.AddNACLEntry(acl, fakeaws.NACLEntry{Number: 100, Egress: true, Protocol: "-1", CIDR: "10.0.0.0/16", Allow: true})
		return acl
	}
	for _, tc := range []struct {
		name  string
		setup func(s *fakeaws.Site, run func(id string) attach.Report) string // returns the new subnet's ACL
	}{
		{"subnets newer than the ACLs", func(s *fakeaws.Site, run func(string) attach.Report) string {
			vpcOnly(s, s.Private["us-east-1b"])
			run(s.Instance("us-east-1a", "web")) // caches the ACLs alone: this path is open
			x := s.W.AddSubnet(s.VPC, "us-east-1a", "10.0.20.0/24")
			acl := closedACL(s, x)
			run(s.Instance("us-east-1b", "web")) // not open: reads the subnets (x among them) into the cache
			return acl
		}},
		{"ACLs newer than the subnets", func(s *fakeaws.Site, run func(string) attach.Report) string {
			broken := vpcOnly(s, s.Private["us-east-1b"])
			s.W.AddNACLEntry(broken, fakeaws.NACLEntry{Number: 50, Egress: true, Protocol: "6", CIDR: "10.0.0.0/16", From: 1024, To: 65535})
			run(s.Instance("us-east-1b", "web")) // reads the subnets, warns
			x := s.W.AddSubnet(s.VPC, "us-east-1a", "10.0.20.0/24")
			acl := closedACL(s, x)
			run(s.Instance("us-east-1b", "web")) // the cached ACLs still miss the rule: read again (x's association among them)
			return acl
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeaws.NewSite()
			run := warmRun(t, s)
			acl := tc.setup(s, run)
			var x string
			for _, sub := range s.W.Subnets(s.VPC) {
				if sub.CIDR == "10.0.20.0/24" {
					x = sub.ID
				}
			}
			r := run(s.W.AddInstance(x, fakeaws.Groups(s.AppGroup), fakeaws.Tag("elbattach:target", "web")))
			if !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "network ACL "+acl+" of instance subnet") }) {
				t.Errorf("the closed ACL %s of the new subnet was not checked: warnings %q", acl, r.Warnings)
			}
		})
	}
}

// TestCachedRouteTablesNewSubnet: the route tables a warm container cached
// never saw a subnet created since; when a later read of the ACLs or subnets
// names one, the cached network is dropped rather than refreshed in part, so
// an instance in the new subnet (routed to the NAT gateway) is checked on a
// fresh read, not given the main route table's missing NAT route (a
// reviewer's case).
func TestCachedRouteTablesNewSubnet(t *testing.T) {
	s := fakeaws.NewSite()
	run := warmRun(t, s)
	broken := s.W.AddNACL(s.VPC, fakeaws.Subnets(s.Private["us-east-1b"]))
	for _, e := range []fakeaws.NACLEntry{
		{Number: 100, Protocol: "-1", CIDR: "10.0.0.0/16", Allow: true},
		{Number: 100, Egress: true, Protocol: "-1", CIDR: "10.0.0.0/16", Allow: true},
		{Number: 50, Egress: true, Protocol: "6", CIDR: "10.0.0.0/16", From: 1024, To: 65535}, // a deny: a finding that reads the ACLs again
	} {
		s.W.AddNACLEntry(broken, e)
	}
	run(s.Instance("us-east-1a", "web")) // caches the ACLs and route tables, no subnets: this path is open
	x := s.W.AddSubnet(s.VPC, "us-east-1a", "10.0.20.0/24")
	s.W.Associate(s.PrivRT, x)           // routed to the NAT gateway
	run(s.Instance("us-east-1b", "web")) // not open: reads the subnets, then the ACLs again (x among them)
	s.W.ResetCalls()
	r := run(s.W.AddInstance(x, fakeaws.Groups(s.AppGroup), fakeaws.Tag("elbattach:target", "web")))
	if slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "NAT") }) || s.W.Count("ec2.DescribeRouteTables") != 1 {
		t.Errorf("warnings %q, calls %v: want the route tables read afresh and no NAT warning", r.Warnings, s.W.Calls())
	}
}

// warmRun returns a function that attaches an instance as its launch event
// would, through one warm container (a pipeline with the target cache) on
// s, failing the test on an error.
func warmRun(t *testing.T, s *fakeaws.Site) func(id string) attach.Report {
	p := pipeline(s.W, time.Millisecond)
	p.Observer.TTL = observe.TargetTTL
	return func(id string) attach.Report {
		t.Helper()
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
		if err != nil {
			t.Fatalf("run: %v\nreport: %+v", err, r)
		}
		return r
	}
}
