package plan

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

func entry(n int32, egress bool, proto string, from, to int32, cidr string, allow bool) state.NACLEntry {
	return state.NACLEntry{Number: n, Egress: egress, Protocol: proto, FromPort: from, ToPort: to, CIDR: netip.MustParsePrefix(cidr), Allow: allow}
}

func TestNACLAllows(t *testing.T) {
	web := netip.MustParsePrefix("10.0.3.0/27")
	tests := []struct {
		name    string
		entries []state.NACLEntry
		want    bool
	}{
		{"AWS default: allow all", []state.NACLEntry{entry(100, false, "-1", 0, 0, "0.0.0.0/0", true), entry(32767, false, "-1", 0, 0, "0.0.0.0/0", false)}, true},
		{"no entries: implicit deny", nil, false},
		{"deny before allow wins", []state.NACLEntry{entry(200, false, "-1", 0, 0, "0.0.0.0/0", true), entry(100, false, "6", 80, 80, "10.0.0.0/16", false)}, false},
		{"allow of part of the range is not enough", []state.NACLEntry{entry(100, false, "6", 80, 80, "10.0.3.0/28", true)}, false},
		{"allow of a wider port range", []state.NACLEntry{entry(100, false, "6", 1, 1000, "10.0.0.0/8", true)}, true},
		{"udp does not count", []state.NACLEntry{entry(100, false, "17", 80, 80, "0.0.0.0/0", true)}, false},
		{"egress entry does not count for ingress", []state.NACLEntry{entry(100, true, "-1", 0, 0, "0.0.0.0/0", true)}, false},
		{"unrelated CIDR skipped", []state.NACLEntry{entry(50, false, "-1", 0, 0, "192.168.0.0/16", false), entry(100, false, "6", 80, 80, "10.0.0.0/16", true)}, true},
		{"allow of part, then of all", []state.NACLEntry{entry(1, false, "6", 80, 80, "10.0.3.0/28", true), entry(2, false, "6", 80, 80, "0.0.0.0/0", true)}, true},
		{"allow of part, deny of another part, allow of all", []state.NACLEntry{entry(1, false, "6", 80, 80, "10.0.3.0/28", true), entry(2, false, "6", 80, 80, "10.0.3.16/28", false), entry(3, false, "-1", 0, 0, "0.0.0.0/0", true)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NACLAllows(state.NACL{ID: "acl-1", Entries: tt.entries}, false, web, 80, 80); got != tt.want {
				t.Errorf("NACLAllows = %v, want %v", got, tt.want)
			}
		})
	}
}

// withACLs is base() with the full state: a default ACL for the public
// subnets and a strict one (nothing allowed) for the instance subnet.
func withACLs(s state.State) state.State {
	s.Full = true
	s.Target.ListenerPorts = []int32{80}
	s.LoadBalancer.Subnets = append(s.LoadBalancer.Subnets, state.LBSubnet{ID: "subnet-x", AZ: "us-east-1c"})
	s.Network.Subnets = append(s.Network.Subnets, sub("subnet-x", "us-east-1c", "10.0.3.0/27", 20))
	s.Network.NACLs = []state.NACL{
		{ID: "acl-default", Default: true, Entries: []state.NACLEntry{entry(100, false, "-1", 0, 0, "0.0.0.0/0", true), entry(100, true, "-1", 0, 0, "0.0.0.0/0", true)}},
		{ID: "acl-strict", Subnets: []string{"subnet-pc"}, Entries: []state.NACLEntry{entry(1, false, "6", 22, 22, "10.0.0.0/16", true)}},
	}
	return s
}

func TestChecksWarnAndFix(t *testing.T) {
	s, c := withACLs(base()), config.Default()
	p, err := Build(s, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"network ACL acl-strict of instance subnet subnet-pc does not allow inbound tcp/80 from 10.0.3.0/27 (load balancer to the instance)",
		"network ACL acl-strict of instance subnet subnet-pc does not allow outbound tcp/1024-65535 to 10.0.3.0/27 (responses to the load balancer)",
		"instance subnet subnet-pc (route table rtb-main) has no 0.0.0.0/0 route to a NAT gateway: the instance cannot reach the internet for patches",
	}
	if diff := cmp.Diff(want, p.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	c.FixNACLs = true
	p, err = Build(s, c)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.Lines(), "\n")
	for _, w := range []string{
		"+ add network ACL acl-strict rule 2: allow tcp/80-80 inbound from 10.0.3.0/27", // rule 1 is taken
		"+ add network ACL acl-strict rule 1: allow tcp/1024-65535 outbound to 10.0.3.0/27",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("plan lacks %q:\n%s", w, got)
		}
	}
}

func TestSecurityKinds(t *testing.T) {
	tests := []struct {
		name   string
		change func(*state.State, *config.Config)
		want   []string
	}{{
		name: "NLB without groups, instance targets, narrowed clients, separate health-check port",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups, s.Target.HealthCheckPort = state.TypeNetwork, nil, "8081"
			c.NLBClientCIDRs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
		},
		want: []string{"+ allow tcp/80 into sg-app from 203.0.113.0/24", "+ allow tcp/8081 into sg-app from 10.0.0.0/16"},
	}, {
		name: "NLB without groups, ip targets: node subnets including the new one",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups, s.Target.TargetType = state.TypeNetwork, nil, "ip"
		},
		want: []string{"+ allow tcp/80 into sg-app from 10.0.0.0/24", "+ allow tcp/80 into sg-app from 10.0.1.0/24", "+ allow tcp/80 into sg-app from 10.0.3.0/27"},
	}, {
		name: "a CIDR rule that covers the clients counts",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups = state.TypeNetwork, nil
			s.InstanceGroups[0].Ingress = []state.Permission{{Protocol: "tcp", FromPort: 80, ToPort: 80, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}
		},
		want: nil,
	}, {
		name: "Classic ELB: every listener instance port and the health-check port",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.ARN = state.TypeClassic, ""
			s.Target.InstancePorts, s.Target.HealthCheckPort = []int32{8080, 8443}, "8081"
		},
		want: []string{"+ allow tcp/8080 into sg-app from sg-alb", "+ allow tcp/8443 into sg-app from sg-alb", "+ allow tcp/8081 into sg-app from sg-alb"},
	}, {
		name: "restricted egress on the load balancer group",
		change: func(s *state.State, c *config.Config) {
			s.LBGroups = []state.SecurityGroup{{ID: "sg-alb", Egress: []state.Permission{{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}}}
		},
		want: []string{"+ allow tcp/80 into sg-app from sg-alb", "+ allow tcp/80 out of sg-alb to sg-app"},
	}, {
		name: "UDP target group behind an NLB with groups: udp traffic, tcp health checks",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.Target.Protocol, s.Target.Port = state.TypeNetwork, "UDP", 53
			// A TCP rule does not open UDP.
			s.InstanceGroups[0].Ingress = []state.Permission{{Protocol: "tcp", FromPort: 53, ToPort: 53, SourceGroup: "sg-alb"}}
			s.LBGroups = []state.SecurityGroup{{ID: "sg-alb", Egress: []state.Permission{{Protocol: "6", FromPort: 0, ToPort: 65535, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}}}
		},
		want: []string{"+ allow udp/53 into sg-app from sg-alb", "+ allow udp/53 out of sg-alb to sg-app"},
	}, {
		name: "TCP_UDP target group behind an NLB without groups: clients on both, health checks covered",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups, s.Target.Protocol = state.TypeNetwork, nil, "TCP_UDP"
			s.InstanceGroups[0].Ingress = []state.Permission{{Protocol: "17", FromPort: 0, ToPort: 65535, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}
		},
		want: []string{"+ allow tcp/80 into sg-app from 0.0.0.0/0"},
	}, {
		name: "NLB without groups, instance targets, client IP preservation off: the nodes",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups, s.Target.PreserveClientIP = state.TypeNetwork, nil, "false"
		},
		want: []string{"+ allow tcp/80 into sg-app from 10.0.0.0/24", "+ allow tcp/80 into sg-app from 10.0.1.0/24", "+ allow tcp/80 into sg-app from 10.0.3.0/27"},
	}, {
		name: "NLB without groups, UDP ip targets (client IPs always preserved): clients, health checks from the nodes",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups, s.Target.TargetType, s.Target.Protocol = state.TypeNetwork, nil, "ip", "UDP"
			s.Target.PreserveClientIP = "false" // not settable for UDP: AWS keeps it on
			c.NLBClientCIDRs = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
		},
		want: []string{"+ allow udp/80 into sg-app from 198.51.100.0/24", "+ allow tcp/80 into sg-app from 10.0.0.0/24",
			"+ allow tcp/80 into sg-app from 10.0.1.0/24", "+ allow tcp/80 into sg-app from 10.0.3.0/27"},
	}, {
		name: "NLB without groups, TCP ip targets with client IP preservation on",
		change: func(s *state.State, c *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups, s.Target.TargetType, s.Target.PreserveClientIP = state.TypeNetwork, nil, "ip", "true"
			c.NLBClientCIDRs = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
		},
		want: []string{"+ allow tcp/80 into sg-app from 198.51.100.0/24", "+ allow tcp/80 into sg-app from 10.0.0.0/24",
			"+ allow tcp/80 into sg-app from 10.0.1.0/24", "+ allow tcp/80 into sg-app from 10.0.3.0/27"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := base(), config.Default()
			tt.change(&s, &c)
			p, err := Build(s, c)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range p.Lines() {
				if strings.Contains(l, "allow tcp") || strings.Contains(l, "allow udp") {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQuotaIPv4AndIPv6Apart: AWS applies the rules-per-group quota to IPv4
// and to IPv6 rules apart, and a rule naming a group (or a prefix list)
// counts toward both: 35 IPv4 and 30 IPv6 rules leave room for an IPv4 rule
// or a group rule; 30 IPv6 and 30 group rules leave none for a group rule.
func TestQuotaIPv4AndIPv6Apart(t *testing.T) {
	rules := func(n int, p state.Permission) []state.Permission {
		out := make([]state.Permission, n)
		for i := range out {
			out[i] = p
			out[i].FromPort, out[i].ToPort = int32(1000+i), int32(1000+i)
		}
		return out
	}
	v4 := state.Permission{Protocol: "tcp", CIDR: netip.MustParsePrefix("10.9.0.0/16")}
	v6 := state.Permission{Protocol: "tcp", IPv6: true}
	group := state.Permission{Protocol: "tcp", SourceGroup: "sg-other"}
	for _, tc := range []struct {
		name    string
		ingress []state.Permission
		want    string // "" for no refusal
	}{
		{"35 IPv4 and 30 IPv6", append(rules(35, v4), rules(30, v6)...), ""},
		{"30 IPv6 and 30 naming a group", append(rules(30, v6), rules(30, group)...), "60 IPv6 inbound rules"},
		{"60 IPv4", rules(60, v4), "60 IPv4 inbound rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			s.InstanceGroups[0].Ingress = tc.ingress
			_, err := Build(s, config.Default())
			if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, ErrRuleLimit) || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEgressQuota(t *testing.T) {
	s, c := base(), config.Default()
	s.LBGroups = []state.SecurityGroup{{ID: "sg-alb", Egress: make([]state.Permission, 60)}}
	if _, err := Build(s, c); !errors.Is(err, ErrRuleLimit) || !strings.Contains(err.Error(), "60 IPv4 outbound rules") {
		t.Errorf("err = %v, want the outbound quota", err)
	}
}

func TestDetachPlan(t *testing.T) {
	s, c := base(), config.Default()
	s.Target.Registrations = []state.Registration{{ID: "i-1", Port: 80, State: "healthy"}, {ID: "i-1", Port: 8080, State: "unhealthy"},
		{ID: "i-2", Port: 80, State: "healthy"}, {ID: "i-1", Port: 9090, State: "draining"}}
	p := BuildDetach(s.Instance, s.Target, s.LoadBalancer, c)
	want := []string{"- deregister i-1 from port 80 of arn:tg/web", "- deregister i-1 from port 8080 of arn:tg/web"}
	if diff := cmp.Diff(want, p.Lines()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	ip := s
	ip.Target.TargetType, ip.Target.Registrations = "ip", []state.Registration{{ID: "10.0.2.10", Port: 80, State: "healthy"}}
	if p := BuildDetach(ip.Instance, ip.Target, ip.LoadBalancer, c); !cmp.Equal(p.Lines(), []string{"- deregister 10.0.2.10 from port 80 of arn:tg/web"}) {
		t.Errorf("ip target: %q", p.Lines())
	}
	ip.Instance.PrivateIP, ip.Instance.State = "", "terminated"
	if p := BuildDetach(ip.Instance, ip.Target, ip.LoadBalancer, c); len(p.Steps) != 0 || len(p.Warnings) != 0 ||
		!strings.Contains(p.Notes[0], "i-1 has no private IP any more (terminated)") {
		t.Errorf("ip target, instance without an address: %v", p)
	}
	s.Target.AllowTag = false
	if p := BuildDetach(s.Instance, s.Target, s.LoadBalancer, c); len(p.Steps) != 0 || len(p.Warnings) != 1 {
		t.Errorf("a target not managed by elbattach was touched: %v", p)
	}
}

// TestNeverOpensTheWorld: no plan opens a port to 0.0.0.0/0, except the
// configured client CIDRs of an NLB without security groups.
func TestNeverOpensTheWorld(t *testing.T) {
	variants := map[string]func(*state.State){
		"ALB":             func(s *state.State) {},
		"ALB ip":          func(s *state.State) { s.Target.TargetType = "ip" },
		"NLB with groups": func(s *state.State) { s.LoadBalancer.Type = state.TypeNetwork },
		"NLB ip without SGs": func(s *state.State) {
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups, s.Target.TargetType = state.TypeNetwork, nil, "ip"
		},
		"Classic":             func(s *state.State) { s.LoadBalancer.Type, s.Target.InstancePorts = state.TypeClassic, []int32{8080} },
		"NLB instance no SGs": func(s *state.State) { s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups = state.TypeNetwork, nil },
	}
	for name, change := range variants {
		for _, hc := range []string{"traffic-port", "8081"} {
			s, c := withACLs(base()), config.Default()
			s.LoadBalancer.Subnets = s.LoadBalancer.Subnets[:2]
			s.Target.HealthCheckPort = hc
			change(&s)
			c.FixNACLs = true
			p, err := Build(s, c)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, st := range p.Steps {
				if st.Op == AuthorizeIngress && st.SourceCIDR == "0.0.0.0/0" && (name != "NLB instance no SGs" || st.Port != 80) {
					t.Errorf("%s (health check %s): %s", name, hc, st)
				}
			}
		}
	}
}

// A reused public subnet keeps its own network ACL: the checks and FIX_NACLS
// look at that ACL, never at the VPC's default one the subnets elbattach
// creates get.
func TestChecksReusedSubnetKeepsItsACL(t *testing.T) {
	s, c := base(), config.Default()
	s.Full = true
	s.Target.ListenerPorts = []int32{443}
	s.Network.Subnets = append(s.Network.Subnets, sub("subnet-pubc", "us-east-1c", "10.0.3.0/27", 20))
	s.Network.RouteTables[1].Subnets = append(s.Network.RouteTables[1].Subnets, "subnet-pubc")
	allowAll := []state.NACLEntry{entry(100, false, "-1", 0, 0, "0.0.0.0/0", true), entry(100, true, "-1", 0, 0, "0.0.0.0/0", true)}
	s.Network.NACLs = []state.NACL{
		{ID: "acl-default", Default: true}, // strict: serves subnet-pa, -pb and -pc, denies everything
		{ID: "acl-open", Subnets: []string{"subnet-pubc", "subnet-pc"}, Entries: allowAll},
	}
	c.FixNACLs = true
	p, err := Build(s, c)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Lines(), "\n"); !strings.Contains(got, "add subnet subnet-pubc") || strings.Contains(got, "network ACL") {
		t.Errorf("plan: want subnet-pubc added and no network ACL change:\n%s", got)
	}
	if len(p.Warnings) > 1 { // the NAT warning only
		t.Errorf("warnings: %q", p.Warnings)
	}
}

// FIX_NACLS never numbers an allow in front of an operator's deny: a rule that
// an explicit deny touches is warned about instead. Once it has added its
// rules, the next plan finds nothing missing, even after an operator's
// partial allow.
func TestNACLFixesRespectDenies(t *testing.T) {
	s, c := withACLs(base()), config.Default()
	c.FixNACLs = true
	s.Network.NACLs[1].Entries = append(s.Network.NACLs[1].Entries,
		entry(2, false, "6", 80, 80, "10.0.3.0/28", true),  // part of the load balancer's subnet
		entry(50, true, "-1", 0, 0, "10.0.3.16/29", false)) // the operator blocks part of it outbound
	p, err := Build(s, c)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.Lines(), "\n")
	if want := "+ add network ACL acl-strict rule 3: allow tcp/80-80 inbound from 10.0.3.0/27"; !strings.Contains(got, want) {
		t.Errorf("plan lacks %q:\n%s", want, got)
	}
	if strings.Contains(got, "outbound") {
		t.Errorf("plan adds an outbound rule in front of or around the operator's deny 50:\n%s", got)
	}
	want := "network ACL acl-strict of instance subnet subnet-pc does not allow outbound tcp/1024-65535 to 10.0.3.0/27 (responses to the load balancer): its rule 50 denies it; FIX_NACLS leaves the operator's deny entries alone"
	if !slices.Contains(p.Warnings, want) {
		t.Errorf("warnings lack %q: %q", want, p.Warnings)
	}

	// Apply the inbound rule: nothing inbound is missing any more.
	s.Network.NACLs[1].Entries = append(s.Network.NACLs[1].Entries, entry(3, false, "6", 80, 80, "10.0.3.0/27", true))
	for _, r := range MissingNACLRules(s, nil, Added{}) {
		if !r.Egress {
			t.Errorf("still missing after the fix: %s", r)
		}
	}
}

// A UDP target group needs UDP through both network ACLs (and TCP for the
// health checks), from and to the clients themselves, whose IPs a Network
// Load Balancer always preserves for UDP; FIX_NACLS adds protocol 17 entries.
func TestNACLChecksUDP(t *testing.T) {
	s, c := withACLs(base()), config.Default()
	s.LoadBalancer.Type, s.Target.Protocol, s.Target.Port = state.TypeNetwork, "UDP", 53
	clients := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	var got []string
	for _, r := range MissingNACLRules(s, clients, Added{}) {
		got = append(got, fmt.Sprintf("%s %v %s %d-%d", r.Proto, r.Egress, r.CIDR, r.From, r.To))
	}
	want := []string{
		"udp false 10.0.3.0/27 53-53", "udp false 198.51.100.0/24 53-53", // the NLB's health checks use tcp, but narrow clients do not cover its subnet
		"tcp false 10.0.3.0/27 53-53",
		"udp true 10.0.3.0/27 1024-65535", "udp true 198.51.100.0/24 1024-65535",
		"tcp true 10.0.3.0/27 1024-65535",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	c.FixNACLs = true // NLB_CLIENT_CIDRS 0.0.0.0/0: it covers the NLB's subnet
	p, err := Build(s, c)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Join(p.Lines(), "\n")
	for _, want := range []string{
		"+ add network ACL acl-strict rule 2: allow udp/53-53 inbound from 0.0.0.0/0",
		"+ add network ACL acl-strict rule 3: allow tcp/53-53 inbound from 10.0.3.0/27",
		"+ add network ACL acl-strict rule 1: allow udp/1024-65535 outbound to 0.0.0.0/0",
		// The TCP health checks' responses: 0.0.0.0/0's rules are for UDP,
		// the traffic, only (a reviewer's case: they were left out).
		"+ add network ACL acl-strict rule 2: allow tcp/1024-65535 outbound to 10.0.3.0/27",
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("plan lacks %q:\n%s", want, lines)
		}
	}
	if strings.Contains(lines, "allow udp/53-53 inbound from 10.0.3.0/27") {
		t.Errorf("plan adds a rule 0.0.0.0/0 already covers:\n%s", lines)
	}
	for _, st := range p.Steps {
		if st.Op == AddNACLEntry && st.FromPort == 53 && st.Protocol != "17" && st.Protocol != "6" {
			t.Errorf("entry protocol %q", st.Protocol)
		}
	}
}

// TestWants: a plan says what it was built without and needs. Cached network
// facts serve the checks while they find nothing, and never a choice of
// subnet; the listener ports matter only behind an ACL that does not let
// every port in from clients.
func TestWants(t *testing.T) {
	build := func(s state.State) Plan {
		t.Helper()
		p, err := Build(s, config.Default())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := withACLs(base())
	open.Network.NACLs = open.Network.NACLs[:1] // the default ACL alone: everything allowed
	if p := build(open); p.Wants.Any() || len(p.Warnings) != 1 {
		t.Errorf("open ACLs, listeners unread: wants %+v, warnings %q (want the NAT warning alone)", p.Wants, p.Warnings)
	}
	open.NetworkCached, open.NACLsCached = true, true                                           // the NAT-route advice rests on cached route tables too
	open.Network.NACLs[0].Subnets = []string{"subnet-pa", "subnet-pb", "subnet-pc", "subnet-x"} // as AWS lists them
	if p := build(open); p.Wants.Any() || len(p.Warnings) != 1 {
		t.Errorf("open ACLs, cached network: wants %+v, warnings %q (want the NAT warning alone)", p.Wants, p.Warnings)
	}
	newer := withACLs(base())
	newer.NetworkCached, newer.NACLsCached = true, true
	newer.LoadBalancer.Subnets[2].ID = "subnet-new" // in us-east-1c, unknown to the cached network
	if p := build(newer); !p.Wants.FreshNetwork {
		t.Errorf("load balancer subnet newer than the cached network: wants %+v", p.Wants)
	}
	noSubnets := withACLs(base())
	noSubnets.Network.NACLs = noSubnets.Network.NACLs[:1] // the default ACL alone: everything allowed
	noSubnets.Network.Subnets, noSubnets.Network.NoSubnets = nil, true
	if p := build(noSubnets); p.Wants.Subnets {
		t.Errorf("open ACLs, no subnets read: wants %+v", p.Wants)
	}
	noSubnets = withACLs(base()) // the strict ACL on the instance subnet
	noSubnets.Network.Subnets, noSubnets.Network.NoSubnets = nil, true
	if p := build(noSubnets); !p.Wants.Subnets || slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, "network ACL") }) {
		t.Errorf("strict ACL, no subnets read: wants %+v, warnings %q", p.Wants, p.Warnings)
	}
	cached := base() // us-east-1c is not on the load balancer: a subnet is to be chosen
	cached.Full, cached.NetworkCached = true, true
	if p := build(cached); !p.Wants.FreshNetwork || slices.ContainsFunc(p.Steps, func(st Step) bool { return st.Op == AddSubnet }) {
		t.Errorf("a new AZ on a cached network: wants %+v, steps %v", p.Wants, p.Lines())
	}
	cached.NetworkCached = false
	if p := build(cached); p.Wants.Any() || !slices.ContainsFunc(p.Steps, func(st Step) bool { return st.Op == AddSubnet }) {
		t.Errorf("a new AZ on a fresh network: wants %+v, steps %v", p.Wants, p.Lines())
	}
	cached.Network.ChecksOnly, cached.NetworkCached = true, false // read for the checks alone
	if p := build(cached); !p.Wants.FreshNetwork {
		t.Errorf("a new AZ on a network without routes: wants %+v, steps %v", p.Wants, p.Lines())
	}
	covered := withACLs(base())
	covered.NACLsCached, covered.Instance.AZ = true, "us-east-1a"
	if p := build(covered); !p.Wants.FreshACLs || p.Wants.FreshNetwork {
		t.Errorf("findings in cached ACLs: wants %+v, warnings %q", p.Wants, p.Warnings)
	}
	strict := withACLs(base())
	strict.Instance.AZ = "us-east-1a"
	strict.Network.NACLs[1].Subnets = []string{"subnet-pa"} // the public subnet: port 22 from the VPC alone
	if p := build(strict); !p.Wants.ListenerPorts || p.Wants.FreshNetwork {
		t.Errorf("strict public ACL, listeners unread: wants %+v", p.Wants)
	}
	strict.Target.ListenersRead, strict.Target.ListenerPorts = true, []int32{443}
	if p := build(strict); p.Wants.Any() || !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, "inbound tcp/443 from 0.0.0.0/0") }) {
		t.Errorf("strict public ACL, listeners read: wants %+v, warnings %q", p.Wants, p.Warnings)
	}
}

// TestPathACLsOpen: the subnets' CIDRs are needed unless both ACLs of the
// path let everything of its protocols through, both ways, before any deny.
func TestPathACLsOpen(t *testing.T) {
	allowAll := []state.NACLEntry{entry(100, false, "-1", 0, 0, "0.0.0.0/0", true), entry(100, true, "-1", 0, 0, "0.0.0.0/0", true)}
	for _, tc := range []struct {
		name        string
		pub, inst   []state.NACLEntry
		udp, expect bool
	}{
		{"both allow all", allowAll, allowAll, false, true},
		{"a deny before the allow", allowAll, append([]state.NACLEntry{entry(50, false, "6", 22, 22, "10.9.0.0/16", false)}, allowAll...), false, false},
		{"tcp 1-65535 is every port", []state.NACLEntry{entry(100, false, "6", 1, 65535, "0.0.0.0/0", true), allowAll[1]}, allowAll, false, true},
		{"tcp from port 1024 only", []state.NACLEntry{entry(100, false, "6", 1024, 65535, "0.0.0.0/0", true), allowAll[1]}, allowAll, false, false},
		{"egress restricted", allowAll, []state.NACLEntry{allowAll[0], entry(100, true, "6", 0, 65535, "10.0.0.0/16", true)}, false, false},
		{"public ACL closed", nil, allowAll, false, false},
		{"tcp allowed, the group is UDP", []state.NACLEntry{entry(100, false, "6", 0, 65535, "0.0.0.0/0", true), entry(100, true, "6", 0, 65535, "0.0.0.0/0", true)}, allowAll, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := withACLs(base())
			s.Network.NACLs = []state.NACL{
				{ID: "acl-pub", Subnets: []string{"subnet-x"}, Entries: tc.pub},
				{ID: "acl-inst", Default: true, Subnets: []string{"subnet-pc"}, Entries: tc.inst},
			}
			if tc.udp {
				s.LoadBalancer.Type, s.Target.Protocol = state.TypeNetwork, "UDP"
			}
			if got := pathACLsOpen(s, Added{}); got != tc.expect {
				t.Errorf("pathACLsOpen = %v, want %v", got, tc.expect)
			}
		})
	}
}

// TestCreatedBlockCoverage: a rule or entry that covers the block a plan
// creates, but not the whole VPC, does not count: apply may create the next
// free block instead (or adopt another run's subnet), and the rules written
// for the planned block follow it there, a rule left out would not. One that
// covers the VPC's CIDR blocks counts.
func TestCreatedBlockCoverage(t *testing.T) {
	for _, tc := range []struct {
		name, covering string
		wantRules      bool
	}{
		{"the planned block's /24 only", "10.0.3.0/24", true},
		{"the VPC", "10.0.0.0/16", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			cover := netip.MustParsePrefix(tc.covering)

			s := base() // us-east-1c is new: the plan creates 10.0.3.0/27
			s.LoadBalancer.Type, s.LoadBalancer.SecurityGroups, s.Target.TargetType = state.TypeNetwork, nil, "ip"
			s.InstanceGroups[0].Ingress = []state.Permission{{Protocol: "tcp", FromPort: 80, ToPort: 80, CIDR: cover}}
			p, err := Build(s, c)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(p.Lines(), "+ allow tcp/80 into sg-app from 10.0.3.0/27"); got != tc.wantRules {
				t.Errorf("security group rule for the created block planned %v, want %v:\n%s", got, tc.wantRules, p)
			}

			s = base()
			s.Full, s.Target.ListenerPorts = true, []int32{80}
			s.Network.NACLs = []state.NACL{
				{ID: "acl-default", Default: true, Entries: []state.NACLEntry{entry(100, false, "-1", 0, 0, "0.0.0.0/0", true), entry(100, true, "-1", 0, 0, "0.0.0.0/0", true)}},
				{ID: "acl-strict", Subnets: []string{"subnet-pc"}, Entries: []state.NACLEntry{
					entry(1, false, "6", 80, 80, tc.covering, true), entry(1, true, "6", 1024, 65535, tc.covering, true)}},
			}
			var found []string
			for _, r := range MissingNACLRules(s, c.NLBClientCIDRs, Added{ID: NewSubnet, CIDR: netip.MustParsePrefix("10.0.3.0/27")}) {
				found = append(found, r.String())
			}
			if got := len(found) == 2; got != tc.wantRules {
				t.Errorf("network ACL findings %q, want the two for the created block: %v", found, tc.wantRules)
			}
		})
	}
}

// TestRegionAZ: the names of a Region's Availability Zones, in every
// partition, and not those of Local Zones or Wavelength Zones.
func TestRegionAZ(t *testing.T) {
	for name, want := range map[string]bool{"us-east-1a": true, "us-gov-west-1b": true, "cn-north-1a": true, "ap-southeast-2c": true,
		"eu-isoe-west-1a": true, "il-central-1a": true, "us-iso-east-1a": true, "eusc-de-east-1a": true, "mx-central-1a": true,
		"us-east-1-bos-1a": false, "us-west-2-lax-1b": false, "us-east-1-wl1-bos-wlz-1": false, "us-east-1": false, "": false} {
		if got := regionAZ.MatchString(name); got != want {
			t.Errorf("regionAZ(%q) = %v, want %v", name, got, want)
		}
	}
}
