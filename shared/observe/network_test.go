package observe_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/fakeaws"
)

// TestPublicDetection: a subnet is public when its route table — explicit,
// else the main one — routes 0.0.0.0/0 to an internet gateway; a NAT gateway
// or instance is recorded, a blackhole route does not count.
func TestPublicDetection(t *testing.T) {
	w := fakeaws.New()
	vpc := w.AddVPC("10.0.0.0/16", fakeaws.WithIGW(), fakeaws.SecondaryCIDR("100.64.0.0/16"))
	igw := w.IGW(vpc)
	sub := func(cidr string) string { return w.AddSubnet(vpc, "us-east-1a", cidr) }
	explicit, viaMain, nat, natInstance, blackhole, noRoute := sub("10.0.0.0/24"), sub("10.0.1.0/24"), sub("10.0.2.0/24"),
		sub("10.0.3.0/24"), sub("10.0.4.0/24"), sub("100.64.0.0/24")
	viaTGW, viaFirewall := sub("10.0.5.0/24"), sub("10.0.6.0/24")
	w.AddRouteTable(vpc, "", fakeaws.Subnets(viaTGW))
	w.AddRoute(w.RouteTableOf(viaTGW), fakeaws.Route{Dest: "0.0.0.0/0", Target: "tgw-0000000000000000b"})
	w.AddRouteTable(vpc, "", fakeaws.Subnets(viaFirewall))
	w.AddRoute(w.RouteTableOf(viaFirewall), fakeaws.Route{Dest: "0.0.0.0/0", Target: "vpce-0000000000000000c"})
	w.AddRoute(w.MainRouteTable(vpc), fakeaws.Route{Dest: "0.0.0.0/0", Target: igw})
	pub := w.AddRouteTable(vpc, igw, fakeaws.Subnets(explicit))
	natRT := w.AddRouteTable(vpc, fakeaws.NAT, fakeaws.Subnets(nat))
	w.AddRouteTable(vpc, "", fakeaws.Subnets(natInstance))
	w.AddRoute(w.RouteTableOf(natInstance), fakeaws.Route{Dest: "0.0.0.0/0", Target: "i-0000000000000000a"})
	dead := w.AddRouteTable(vpc, "", fakeaws.Subnets(blackhole))
	w.AddRoute(dead, fakeaws.Route{Dest: "0.0.0.0/0", Target: igw, Blackhole: true})
	w.AddRouteTable(vpc, "", fakeaws.Subnets(noRoute))

	n, err := observer(w).Network(ctx, vpc, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("100.64.0.0/16")}; !cmp.Equal(n.CIDRs, want, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })) {
		t.Errorf("CIDRs %v", n.CIDRs)
	}
	if n.IGW != igw {
		t.Errorf("IGW %q, want %q", n.IGW, igw)
	}
	for _, tc := range []struct {
		name, subnet, table string
		explicit, public    bool
		nat                 string
	}{
		{"explicit public", explicit, pub, true, true, ""},
		{"main table fallback", viaMain, w.MainRouteTable(vpc), false, true, ""},
		{"NAT gateway", nat, natRT, true, false, fakeaws.NAT},
		{"NAT instance", natInstance, w.RouteTableOf(natInstance), true, false, "i-0000000000000000a"},
		{"blackhole", blackhole, dead, true, false, ""},
		{"no default route", noRoute, w.RouteTableOf(noRoute), true, false, ""},
		// Centralised egress: the way out, not public (a reviewer's case:
		// these read as no egress, and every run warned of it).
		{"transit gateway", viaTGW, w.RouteTableOf(viaTGW), true, false, "tgw-0000000000000000b"},
		{"firewall endpoint", viaFirewall, w.RouteTableOf(viaFirewall), true, false, "vpce-0000000000000000c"},
	} {
		rt, isExplicit, ok := n.RouteTableOf(tc.subnet)
		if !ok || rt.ID != tc.table || isExplicit != tc.explicit || n.IsPublic(tc.subnet) != tc.public || rt.DefaultNAT != tc.nat {
			t.Errorf("%s: table %s explicit %v public %v NAT %q; want %s %v %v %q",
				tc.name, rt.ID, isExplicit, n.IsPublic(tc.subnet), rt.DefaultNAT, tc.table, tc.explicit, tc.public, tc.nat)
		}
	}
	if main, _, _ := n.RouteTableOf(viaMain); !main.Main || len(main.Subnets) != 0 {
		t.Errorf("main table: %+v", main)
	}
}

// TestListeners: the full state reads the listener ports, and the rules only
// when no default action forwards to the target group (here the second
// listener's rule does).
func TestListeners(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	api := w.AddTargetGroup(site.VPC, "api", 8080, fakeaws.Allowed())
	w.AddLoadBalancer("api-alb", "application", fakeaws.Subnets(site.Public["us-east-1a"], site.Public["us-east-1b"]),
		fakeaws.Groups(site.LBGroup), fakeaws.Forward(80, ""), fakeaws.Forward(443, ""), fakeaws.RuleTo(443, api))
	for _, tc := range []struct {
		target string
		ports  []int32
		rules  int // DescribeRules calls: one per listener until a rule forwards
	}{
		{"web", []int32{80}, 0},
		{"api", []int32{80, 443}, 2},
	} {
		s, _ := observeCalls(t, w, site.Instance("us-east-1a", tc.target), tc.target, true)
		if !cmp.Equal(s.Target.ListenerPorts, tc.ports) || s.Target.Unrouted {
			t.Errorf("%s: listener ports %v unrouted %v, want %v and routed", tc.target, s.Target.ListenerPorts, s.Target.Unrouted, tc.ports)
		}
		if n := w.Count("elbv2.DescribeRules"); n != tc.rules {
			t.Errorf("%s: DescribeRules called %d times, want %d", tc.target, n, tc.rules)
		}
	}
}

// pagedELB answers the listener and rule reads a page of one at a time, as
// AWS may when no page size is asked for.
type pagedELB struct{ *fakeaws.ELBv2 }

func (p pagedELB) DescribeListeners(ctx context.Context, in *elasticloadbalancingv2.DescribeListenersInput, opts ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeListenersOutput, error) {
	q := *in
	q.PageSize = aws.Int32(1)
	return p.ELBv2.DescribeListeners(ctx, &q, opts...)
}

func (p pagedELB) DescribeRules(ctx context.Context, in *elasticloadbalancingv2.DescribeRulesInput, opts ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeRulesOutput, error) {
	q := *in
	q.PageSize = aws.Int32(1)
	return p.ELBv2.DescribeRules(ctx, &q, opts...)
}

// TestListenersPaged: the listener and rule reads follow their pages (a
// reviewer's case: a rule past the first page was missed, and the target
// group taken for one no listener forwards to).
func TestListenersPaged(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	api := w.AddTargetGroup(site.VPC, "api", 8080, fakeaws.Allowed())
	lb := w.AddLoadBalancer("api-alb", "application", fakeaws.Subnets(site.Public["us-east-1a"], site.Public["us-east-1b"]),
		fakeaws.Groups(site.LBGroup), fakeaws.Forward(80, ""), fakeaws.Forward(443, ""), fakeaws.RuleTo(443, api))
	o := observer(w)
	o.ELB = pagedELB{w.ELBv2()}
	ports, forwards, err := o.Listeners(ctx, lb, api)
	if err != nil || !cmp.Equal(ports, []int32{80, 443}) || !forwards {
		t.Errorf("ports %v, forwards %v, %v: want both listeners and the rule that forwards", ports, forwards, err)
	}
}
