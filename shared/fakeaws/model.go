package fakeaws

import (
	"net/netip"
	"slices"
	"strings"
)

// VPC is a VPC with its CIDR blocks.
type VPC struct {
	ID             string
	CIDRs          []string
	MainRouteTable string
	DefaultNACL    string
}

// RouteTable is a route table. Subnets maps each explicitly associated
// subnet to its association ID.
type RouteTable struct {
	ID, VPC string
	Main    bool
	Subnets map[string]string
	Routes  []Route
	Tags    map[string]string
}

// Route is one route. Target is "local", an internet gateway (igw-…), a NAT
// gateway (nat-…) or an instance (i-…).
type Route struct {
	Dest      string
	Target    string
	Blackhole bool
}

// Subnet is a subnet. InUse counts the addresses taken besides the
// instances' (other ENIs).
type Subnet struct {
	ID, VPC, AZ, CIDR string
	InUse             int
	Tags              map[string]string
}

// NACL is a network ACL with the subnets associated with it.
type NACL struct {
	ID, VPC string
	Default bool
	Subnets []string
	Entries []NACLEntry
}

// NACLEntry is one network ACL rule. Protocol is "-1" (all), "6" (tcp), ...
type NACLEntry struct {
	Number   int32
	Egress   bool
	Protocol string
	CIDR     string
	From, To int32
	Allow    bool
}

// SecurityGroup is a security group. Each rule has one peer.
type SecurityGroup struct {
	ID, VPC, Name   string
	Ingress, Egress []Rule
}

// Rule is one security group rule: a protocol ("tcp", "-1", ...), a port
// range, and a peer, either Group or CIDR.
type Rule struct {
	Protocol    string
	From, To    int32
	Group       string
	CIDR        string
	Description string
}

// TCP returns a rule for tcp/port with peer, a group ID (sg-…) or a CIDR.
func TCP(port int32, peer string) Rule {
	r := Rule{Protocol: "tcp", From: port, To: port}
	if strings.HasPrefix(peer, "sg-") {
		r.Group = peer
	} else {
		r.CIDR = peer
	}
	return r
}

// AllTraffic returns a rule for all traffic with a CIDR peer.
func AllTraffic(cidr string) Rule { return Rule{Protocol: "-1", From: -1, To: -1, CIDR: cidr} }

// same reports whether two rules are one for AWS: description aside.
func (r Rule) same(o Rule) bool {
	return r.Protocol == o.Protocol && r.From == o.From && r.To == o.To && r.Group == o.Group && r.CIDR == o.CIDR
}

// Instance is an EC2 instance.
type Instance struct {
	ID, State, AZ, Subnet, VPC, PrivateIP string
	Groups                                []string
	Tags                                  map[string]string
}

// TargetGroup is an ELBv2 target group with its registered targets.
type TargetGroup struct {
	ARN, Name, Protocol, TargetType, HealthCheckPort, VPC string
	PreserveClientIP                                      string // "true", "false", "": AWS's default
	Port                                                  int32
	Tags                                                  map[string]string
	LoadBalancers                                         []string
	Targets                                               []Target
}

// Target is a registration. Pinned health (SetTargetHealth) is reported as
// it is; else a target in an AZ its load balancer does not cover, or of a
// target group without one, is unused (Target.NotInUse).
type Target struct {
	ID            string
	Port          int32
	State, Reason string
	Pinned        bool
}

// LoadBalancer is an ALB or NLB; its AZs are its subnets'.
type LoadBalancer struct {
	ARN, Name, Type, Scheme, VPC string
	IPAddressType                string // "" reads as ipv4
	Subnets, Groups              []string
	Listeners                    []Listener
	Tags                         map[string]string
}

// Listener is an ELBv2 listener: its default action forwards to
// TargetGroup (or, when "", answers 404 itself), and each of its Rules (by
// priority) forwards to one target group.
type Listener struct {
	ARN, Protocol, TargetGroup string
	Port                       int32
	Rules                      []string
}

// ClassicLB is a Classic Load Balancer.
type ClassicLB struct {
	Name, Scheme, VPC string
	Subnets, Groups   []string
	Listeners         []ClassicListener
	HealthCheck       string // "HTTP:8080/health"
	Instances         []string
	Health            map[string]InstanceHealth // of registered instances
	Tags              map[string]string
}

// InstanceHealth is an instance's state on a Classic ELB: InService or
// OutOfService, with a reason code (ELB, Instance, N/A) and a description.
type InstanceHealth struct {
	State, Reason, Description string
}

// ClassicListener is a Classic ELB listener.
type ClassicListener struct {
	Protocol           string
	Port, InstancePort int32
}

// Zones are the AZs of the region.
var Zones = []string{Region + "a", Region + "b", Region + "c", Region + "d", Region + "e", Region + "f"}

// freeIPs is what AWS reports as AvailableIpAddressCount: the block less the
// five addresses AWS reserves, the instances' and the other used ones.
func (d *db) freeIPs(s *Subnet) int {
	p := netip.MustParsePrefix(s.CIDR)
	n := 1<<(32-p.Bits()) - 5 - s.InUse
	for _, i := range d.Instances {
		if i.Subnet == s.ID && i.State != "terminated" {
			n--
		}
	}
	return n
}

// routeTableOf returns the route table governing subnet: explicit, else main.
func (d *db) routeTableOf(subnet string) *RouteTable {
	var main *RouteTable
	vpc := d.Subnets[subnet].VPC
	for _, rt := range d.RouteTables {
		if _, ok := rt.Subnets[subnet]; ok {
			return rt
		}
		if rt.Main && rt.VPC == vpc {
			main = rt
		}
	}
	return main
}

// explicitTable returns the route table subnet is explicitly associated with.
func (d *db) explicitTable(subnet string) *RouteTable {
	for _, rt := range d.RouteTables {
		if _, ok := rt.Subnets[subnet]; ok {
			return rt
		}
	}
	return nil
}

// contains reports whether p lies inside one of the VPC's blocks.
func (v *VPC) contains(p netip.Prefix) bool {
	return slices.ContainsFunc(v.CIDRs, func(c string) bool {
		b := netip.MustParsePrefix(c)
		return b.Bits() <= p.Bits() && b.Contains(p.Addr())
	})
}

// zoneOf maps the AZ of each of subnets to the subnet.
func (d *db) zoneOf(subnets []string) map[string]string {
	m := map[string]string{}
	for _, id := range subnets {
		if s, ok := d.Subnets[id]; ok {
			m[s.AZ] = id
		}
	}
	return m
}

// health returns what DescribeTargetHealth reports for t in tg.
func (d *db) health(tg *TargetGroup, t Target) (state, reason, desc string) {
	if t.Pinned {
		return t.State, t.Reason, ""
	}
	if len(tg.LoadBalancers) == 0 {
		return "unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"
	}
	if az := d.targetAZ(tg, t.ID); az != "" {
		covered := false
		for _, arn := range tg.LoadBalancers {
			if lb, ok := d.LoadBalancers[arn]; ok && d.zoneOf(lb.Subnets)[az] != "" {
				covered = true
			}
		}
		if !covered {
			return "unused", "Target.NotInUse", "Target is in an Availability Zone that is not enabled for the load balancer"
		}
	}
	return t.State, t.Reason, ""
}

// targetAZ is the AZ of an instance target, or of the subnet holding an IP
// target ("" when unknown).
func (d *db) targetAZ(tg *TargetGroup, id string) string {
	if i, ok := d.Instances[id]; ok {
		return i.AZ
	}
	ip, err := netip.ParseAddr(id)
	if err != nil {
		return ""
	}
	for _, s := range d.Subnets {
		if s.VPC == tg.VPC && netip.MustParsePrefix(s.CIDR).Contains(ip) {
			return s.AZ
		}
	}
	return ""
}
