package attach_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
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

// TestListenerPortsWanted: in a covered AZ whose public subnet's network ACL
// does not let every port in from clients, the plan wants the listener
// ports: they are read (once) and the missing rule is named. With the
// default ACL (TestWarmContainer) they are not read.
func TestListenerPortsWanted(t *testing.T) {
	s := fakeaws.NewSite()
	restrictClients(s)
	id := s.Instance("us-east-1a", "web")
	r, err := pipeline(s.W, time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if err != nil {
		t.Fatalf("run: %v\nreport: %+v", err, r)
	}
	if n := s.W.Count("elbv2.DescribeListeners"); n != 1 || !listenerWarning(r.Warnings) {
		t.Errorf("DescribeListeners %d times, want 1; warnings %q", n, r.Warnings)
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
