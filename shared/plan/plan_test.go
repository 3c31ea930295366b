package plan

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// base is an ALB in us-east-1a and b of vpc-1 (10.0.0.0/16) with a public
// route table rtb-pub, and an instance in a private subnet of us-east-1c.
func base() state.State {
	return state.State{
		Instance: state.Instance{ID: "i-1", State: "running", AZ: "us-east-1c", VPC: "vpc-1", Subnet: "subnet-pc",
			PrivateIP: "10.0.2.10", SecurityGroups: []string{"sg-app"}},
		Target: state.Target{Ref: state.Ref{Raw: "web", Name: "web"}, Name: "web", ARN: "arn:tg/web", Port: 80,
			TargetType: "instance", HealthCheckPort: "traffic-port", VPC: "vpc-1", AllowTag: true},
		LoadBalancer: state.LoadBalancer{ARN: "arn:lb/web", Name: "web", Type: state.TypeApplication, Scheme: "internet-facing",
			VPC: "vpc-1", SecurityGroups: []string{"sg-alb"},
			Subnets: []state.LBSubnet{{ID: "subnet-pa", AZ: "us-east-1a"}, {ID: "subnet-pb", AZ: "us-east-1b"}}},
		InstanceGroups: []state.SecurityGroup{{ID: "sg-app", VPC: "vpc-1"}},
		Network: &state.Network{
			VPC: "vpc-1", IGW: "igw-1", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
			Subnets: []state.Subnet{
				sub("subnet-pa", "us-east-1a", "10.0.0.0/24", 250),
				sub("subnet-pb", "us-east-1b", "10.0.1.0/24", 250),
				sub("subnet-pc", "us-east-1c", "10.0.2.0/24", 250),
			},
			RouteTables: []state.RouteTable{
				{ID: "rtb-main", Main: true},
				{ID: "rtb-pub", DefaultIGW: "igw-1", Subnets: []string{"subnet-pa", "subnet-pb"}},
			},
		},
	}
}

func sub(id, az, cidr string, free int) state.Subnet {
	return state.Subnet{ID: id, AZ: az, CIDR: netip.MustParsePrefix(cidr), FreeIPs: free}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name   string
		change func(*state.State, *config.Config)
		want   string
	}{{
		name: "new AZ: create a /27, route it, add it, open the group, register",
		want: `
plan for i-1 -> web
  + create subnet 10.0.3.0/27 in us-east-1c of vpc-1 (Name=elbattach-public-us-east-1c)
  + associate subnet <new-subnet> with public route table rtb-pub
  ~ add subnet <new-subnet> (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
`,
	}, {
		name: "AZ covered, rule present, registered: nothing to do",
		change: func(s *state.State, _ *config.Config) {
			s.LoadBalancer.Subnets = append(s.LoadBalancer.Subnets, state.LBSubnet{ID: "subnet-x", AZ: "us-east-1c"})
			s.InstanceGroups[0].Ingress = []state.Permission{{Protocol: "tcp", FromPort: 0, ToPort: 1000, SourceGroup: "sg-alb"}}
			s.Target.Registrations = []state.Registration{{ID: "i-1", Port: 80, State: "healthy"}}
		},
		want: `
plan for i-1 -> web
  (no changes)
  = load balancer web already has subnet subnet-x in us-east-1c
  = tcp/80 already allowed into the instance from sg-alb by sg-app
  = i-1 already registered in web (healthy)
`,
	}, {
		name: "reuse a public subnet in the AZ; a /28 and an almost full one are not usable",
		change: func(s *state.State, _ *config.Config) {
			n := s.Network
			n.Subnets = append(n.Subnets, sub("subnet-small", "us-east-1c", "10.0.9.0/28", 11),
				sub("subnet-full", "us-east-1c", "10.0.10.0/24", 7), sub("subnet-ok2", "us-east-1c", "10.0.12.0/27", 27),
				sub("subnet-ok1", "us-east-1c", "10.0.11.0/27", 27))
			n.RouteTables[1].Subnets = append(n.RouteTables[1].Subnets, "subnet-small", "subnet-full", "subnet-ok1", "subnet-ok2")
		},
		want: `
plan for i-1 -> web
  ~ add subnet subnet-ok1 (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
  = reusing public subnet subnet-ok1 (10.0.11.0/27) in us-east-1c
`,
	}, {
		name: "main route table public: a subnet without explicit association is public",
		change: func(s *state.State, _ *config.Config) {
			s.Network.RouteTables[0].DefaultIGW = "igw-1"
		},
		want: `
plan for i-1 -> web
  ~ add subnet subnet-pc (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
  = reusing public subnet subnet-pc (10.0.2.0/24) in us-east-1c
`,
	}, {
		name: "finish a managed subnet left unrouted by an earlier run",
		change: func(s *state.State, _ *config.Config) {
			m := sub("subnet-m", "us-east-1c", "10.0.3.0/27", 27)
			m.Tags = map[string]string{config.ManagedTagKey: "true"}
			s.Network.Subnets = append(s.Network.Subnets, m)
		},
		want: `
plan for i-1 -> web
  + associate subnet subnet-m with public route table rtb-pub
  ~ add subnet subnet-m (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
`,
	}, {
		name: "a managed subnet since associated with a private route table is not finished",
		change: func(s *state.State, _ *config.Config) {
			m := sub("subnet-m", "us-east-1c", "10.0.3.0/27", 27)
			m.Tags = map[string]string{config.ManagedTagKey: "true"}
			s.Network.Subnets = append(s.Network.Subnets, m)
			s.Network.RouteTables = append(s.Network.RouteTables, state.RouteTable{ID: "rtb-nat", Subnets: []string{"subnet-m"}})
		},
		want: `
plan for i-1 -> web
  + create subnet 10.0.3.32/27 in us-east-1c of vpc-1 (Name=elbattach-public-us-east-1c)
  + associate subnet <new-subnet> with public route table rtb-pub
  ~ add subnet <new-subnet> (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
`,
	}, {
		name: "no public route table: create one routed to the IGW",
		change: func(s *state.State, _ *config.Config) {
			s.Network.RouteTables = s.Network.RouteTables[:1]
		},
		want: `
plan for i-1 -> web
  + create subnet 10.0.3.0/27 in us-east-1c of vpc-1 (Name=elbattach-public-us-east-1c)
  + create route table in vpc-1 with 0.0.0.0/0 -> igw-1
  + associate subnet <new-subnet> with public route table <new-route-table>
  ~ add subnet <new-subnet> (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
`,
	}, {
		name: "no public route table, elbattach's left unrouted by an earlier run: route it, not another",
		change: func(s *state.State, _ *config.Config) {
			s.Network.RouteTables = append(s.Network.RouteTables[:1],
				state.RouteTable{ID: "rtb-m", Tags: map[string]string{config.ManagedTagKey: "true"}},
				state.RouteTable{ID: "rtb-m2", DefaultRoute: true, Tags: map[string]string{config.ManagedTagKey: "true"}}) // a blackhole
		},
		want: `
plan for i-1 -> web
  + create subnet 10.0.3.0/27 in us-east-1c of vpc-1 (Name=elbattach-public-us-east-1c)
  + route 0.0.0.0/0 -> igw-1 in elbattach's route table rtb-m
  + associate subnet <new-subnet> with public route table rtb-m
  ~ add subnet <new-subnet> (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
`,
	}, {
		name: "a public subnet on an Outpost is not a load balancer subnet of the Region: create one",
		change: func(s *state.State, _ *config.Config) {
			o := sub("subnet-outpost", "us-east-1c", "10.0.4.0/24", 250)
			o.Outpost = true
			s.Network.Subnets = append(s.Network.Subnets, o)
			s.Network.RouteTables[1].Subnets = append(s.Network.RouteTables[1].Subnets, "subnet-outpost")
		},
		want: `
plan for i-1 -> web
  + create subnet 10.0.3.0/27 in us-east-1c of vpc-1 (Name=elbattach-public-us-east-1c)
  + associate subnet <new-subnet> with public route table rtb-pub
  ~ add subnet <new-subnet> (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
`,
	}, {
		name: "health-check port, port override, prefix 24, ip target",
		change: func(s *state.State, c *config.Config) {
			s.Target.HealthCheckPort = "8081"
			s.Target.Ref.Port = 8080
			s.Target.TargetType = "ip"
			c.SubnetPrefix = 24
		},
		want: `
plan for i-1 -> web
  + create subnet 10.0.3.0/24 in us-east-1c of vpc-1 (Name=elbattach-public-us-east-1c)
  + associate subnet <new-subnet> with public route table rtb-pub
  ~ add subnet <new-subnet> (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/8080 into sg-app from sg-alb
  + allow tcp/8081 into sg-app from sg-alb
  + register 10.0.2.10 on port 8080 in arn:tg/web
`,
	}, {
		name: "secondary CIDR when the primary is full",
		change: func(s *state.State, _ *config.Config) {
			n := s.Network
			n.CIDRs = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("10.2.0.0/16")}
			n.Subnets = []state.Subnet{sub("subnet-pc", "us-east-1c", "10.1.0.0/25", 100), sub("s2", "us-east-1c", "10.1.0.128/25", 100)}
		},
		want: `
plan for i-1 -> web
  + create subnet 10.2.0.0/27 in us-east-1c of vpc-1 (Name=elbattach-public-us-east-1c)
  + associate subnet <new-subnet> with public route table rtb-pub
  ~ add subnet <new-subnet> (us-east-1c) to application load balancer arn:lb/web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
`,
	}, {
		name: "allowed by ALLOWED_TARGETS instead of the tag",
		change: func(s *state.State, c *config.Config) {
			s.Target.AllowTag = false
			c.AllowedTargets = []string{"arn:tg/web"}
			s.LoadBalancer.Subnets = append(s.LoadBalancer.Subnets, state.LBSubnet{ID: "subnet-x", AZ: "us-east-1c"})
			s.Target.Registrations = []state.Registration{{ID: "i-1", Port: 80, State: "unused", Reason: "Target.NotRegistered"}}
		},
		want: `
plan for i-1 -> web
  + allow tcp/80 into sg-app from sg-alb
  + register i-1 on port 80 in arn:tg/web
  = load balancer web already has subnet subnet-x in us-east-1c
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := base(), config.Default()
			if tt.change != nil {
				tt.change(&s, &c)
			}
			p, err := Build(s, c)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if diff := cmp.Diff(strings.TrimPrefix(tt.want, "\n"), p.String()); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*state.State, *config.Config)
		want   error
		msg    string
	}{
		{"target group not allowed", func(s *state.State, _ *config.Config) { s.Target.AllowTag = false }, ErrNotAllowed, "web has no tag elbattach:allow=true"},
		{"internal load balancer", func(s *state.State, _ *config.Config) { s.LoadBalancer.Scheme = "internal" }, ErrInternal, "web is internal"},
		{"load balancer in another VPC", func(s *state.State, _ *config.Config) { s.LoadBalancer.VPC = "vpc-2" }, ErrOtherVPC, "web is in vpc-2, instance i-1 in vpc-1"},
		{"target group in another VPC", func(s *state.State, _ *config.Config) { s.Target.VPC = "vpc-2" }, ErrOtherVPC, "target group web is in vpc-2"},
		{"no load balancer", func(s *state.State, _ *config.Config) { s.LoadBalancer = state.LoadBalancer{} }, ErrNoLoadBalancer, "not used by any load balancer"},
		{"stopped instance", func(s *state.State, _ *config.Config) { s.Instance.State = "stopped" }, ErrNotRunning, "i-1 is stopped"},
		{"lambda target group", func(s *state.State, _ *config.Config) { s.Target.TargetType = "lambda" }, ErrUnsupported, "target type lambda"},
		{"no internet gateway", func(s *state.State, _ *config.Config) {
			s.Network.IGW, s.Network.RouteTables = "", s.Network.RouteTables[:1]
		}, ErrNoIGW, "vpc-1 has none attached"},
		{"no free space", func(s *state.State, _ *config.Config) {
			s.Network.Subnets = append(s.Network.Subnets, sub("big", "us-east-1d", "10.0.0.0/16", 10))
		}, ErrNoSpace, "no free /27 in vpc-1"},
		{"subnet quota", func(s *state.State, _ *config.Config) {
			for i := range MaxSubnetsPerVPC {
				s.Network.Subnets = append(s.Network.Subnets, sub("x", "us-east-1d", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(100 + i/8), byte(i % 8 * 32)}), 27).String(), 27))
			}
		}, ErrSubnetLimit, "vpc-1 has 203 subnets"},
		{"rule quota", func(s *state.State, _ *config.Config) {
			s.InstanceGroups[0].Ingress = make([]state.Permission, 60)
		}, ErrRuleLimit, "sg-app has 60 IPv4 inbound rules"},
		{"new AZ on a Network Load Balancer with Elastic IPs", func(s *state.State, _ *config.Config) {
			s.LoadBalancer.Type, s.LoadBalancer.ElasticIPs = state.TypeNetwork, true
		}, ErrUnsupported, "web gives its subnets Elastic IPs; a subnet in us-east-1c needs one too"},
		{"instance in a Local Zone", func(s *state.State, _ *config.Config) {
			s.Instance.AZ = "us-east-1-bos-1a"
			s.Network.Subnets[2].AZ = "us-east-1-bos-1a"
		}, ErrUnsupported, "us-east-1-bos-1a is not one of the Region's Availability Zones"},
		{"instance in a Wavelength Zone", func(s *state.State, _ *config.Config) {
			s.Instance.AZ = "us-east-1-wl1-bos-wlz-1"
		}, ErrUnsupported, "us-east-1-wl1-bos-wlz-1 is not one of the Region's Availability Zones"},
		{"new AZ on a dualstack load balancer", func(s *state.State, _ *config.Config) {
			s.LoadBalancer.IPAddressType = "dualstack"
		}, ErrUnsupported, "web is dualstack, so its subnets need IPv6 CIDR blocks"},
		{"draining", func(s *state.State, _ *config.Config) {
			s.Target.Registrations = []state.Registration{{ID: "i-1", Port: 80, State: "draining"}}
		}, ErrDraining, "still draining"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := base(), config.Default()
			tt.change(&s, &c)
			p, err := Build(s, c)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Build error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if len(p.Steps) != 0 {
				t.Errorf("a refused plan has steps: %v", p.Lines())
			}
		})
	}
}

func TestFreeBlock(t *testing.T) {
	vpc := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}
	subs := []state.Subnet{sub("a", "", "10.0.0.0/27", 0), sub("b", "", "10.0.0.64/26", 0)}
	got, ok := FreeBlock(vpc, subs, 27)
	if !ok || got.String() != "10.0.0.32/27" {
		t.Errorf("FreeBlock = %v %v, want 10.0.0.32/27", got, ok)
	}
	got, ok = FreeBlock(vpc, subs, 25)
	if !ok || got.String() != "10.0.0.128/25" {
		t.Errorf("FreeBlock /25 = %v %v, want 10.0.0.128/25", got, ok)
	}
	if _, ok := FreeBlock(vpc, subs, 23); ok {
		t.Error("a /23 cannot fit in a /24")
	}
}

// A dualstack or Elastic-IP load balancer that already covers the instance's
// AZ needs no subnet: the rule and the registration go ahead.
func TestCoveredAZNeedsNoSubnetKind(t *testing.T) {
	s, c := base(), config.Default()
	s.LoadBalancer.IPAddressType, s.LoadBalancer.ElasticIPs = "dualstack", true
	s.LoadBalancer.Subnets = append(s.LoadBalancer.Subnets, state.LBSubnet{ID: "subnet-x", AZ: "us-east-1c"})
	p, err := Build(s, c)
	if err != nil || len(p.Steps) != 2 {
		t.Errorf("plan %q, %v", p.Lines(), err)
	}
}
