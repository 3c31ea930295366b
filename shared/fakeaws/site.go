package fakeaws

import "fmt"

// Site is the world most elbattach tests start from, built by NewSite:
//
//   - VPC 10.0.0.0/16 with an internet gateway; its main route table has only
//     the local route;
//   - route table PublicRT (0.0.0.0/0 -> the IGW) with the public subnets
//     10.0.0.0/27 (us-east-1a) and 10.0.0.32/27 (us-east-1b);
//   - route table PrivateRT (0.0.0.0/0 -> nat-0a1b2c3d4e5f60718) with a
//     private /24 in each of us-east-1a..e: 10.0.10.0/24, 10.0.11.0/24, ...;
//   - group LBGroup (tcp/80 in from 0.0.0.0/0) and group AppGroup (no
//     inbound rule), both with the default egress;
//   - target group "web" (HTTP/80, instance, elbattach:allow=true) behind the
//     internet-facing ALB "web-alb" in the two public subnets, listener 80.
//
// The ALB lacks us-east-1c, d and e; the lowest free /27 is 10.0.0.64/27.
type Site struct {
	W                          *World
	VPC, IGW, PublicRT, PrivRT string
	Public, Private            map[string]string // AZ -> subnet ID
	LBGroup, AppGroup          string
	TG, LB                     string // ARNs
}

// NAT is the NAT gateway the private route table of a Site routes to.
const NAT = "nat-0a1b2c3d4e5f60718"

// NewSite builds a Site in a new World.
func NewSite() *Site {
	w := New()
	s := &Site{W: w, Public: map[string]string{}, Private: map[string]string{}}
	s.VPC = w.AddVPC("10.0.0.0/16", WithIGW())
	s.IGW = w.IGW(s.VPC)
	s.Public[Zones[0]] = w.AddSubnet(s.VPC, Zones[0], "10.0.0.0/27", Tag("Name", "public-a"))
	s.Public[Zones[1]] = w.AddSubnet(s.VPC, Zones[1], "10.0.0.32/27", Tag("Name", "public-b"))
	var private []string
	for i, az := range Zones[:5] {
		s.Private[az] = w.AddSubnet(s.VPC, az, fmt.Sprintf("10.0.%d.0/24", 10+i), Tag("Name", "private-"+az[len(az)-1:]))
		private = append(private, s.Private[az])
	}
	s.PublicRT = w.AddRouteTable(s.VPC, s.IGW, Subnets(s.Public[Zones[0]], s.Public[Zones[1]]), Tag("Name", "public"))
	s.PrivRT = w.AddRouteTable(s.VPC, NAT, Subnets(private...), Tag("Name", "private"))
	s.LBGroup = w.AddSecurityGroup(s.VPC, "alb")
	w.AddIngress(s.LBGroup, TCP(80, "0.0.0.0/0"))
	s.AppGroup = w.AddSecurityGroup(s.VPC, "app")
	s.TG = w.AddTargetGroup(s.VPC, "web", 80, Allowed())
	s.LB = w.AddLoadBalancer("web-alb", "application", Subnets(s.Public[Zones[0]], s.Public[Zones[1]]),
		Groups(s.LBGroup), Forward(80, s.TG))
	return s
}

// Instance adds a running instance in the private subnet of az, in AppGroup,
// tagged elbattach:target=target, and returns its ID.
func (s *Site) Instance(az, target string, opts ...Option) string {
	return s.W.AddInstance(s.Private[az], append([]Option{Groups(s.AppGroup), Tag("elbattach:target", target)}, opts...)...)
}
