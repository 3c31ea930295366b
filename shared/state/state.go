// Package state holds the plain data elbattach reads from AWS: the instance,
// its target, the load balancer (ALB, NLB and Classic ELB alike), the VPC's
// network and the security groups involved. It has no AWS imports, so that
// package plan can stay pure; package observe fills it in.
package state

import (
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// State is everything one attach or detach decision needs.
type State struct {
	Instance     Instance     `json:"instance"`
	Target       Target       `json:"target"`
	LoadBalancer LoadBalancer `json:"load-balancer"`
	// Network is read whole by Observe when a decision needs it (the load
	// balancer lacks the instance's AZ, an NLB without security groups, a
	// Classic ELB) and for diagnose; else Complete adds what the checks need
	// (Network.ChecksOnly), possibly from a warm container's cache.
	Network *Network `json:"network,omitempty"`
	// InstanceGroups are the instance's security groups with their rules.
	InstanceGroups []SecurityGroup `json:"instance-groups,omitempty"`
	// LBGroups are the load balancer's security groups with their rules.
	LBGroups []SecurityGroup `json:"lb-groups,omitempty"`
	// Full is true when the checks beyond the minimum were read: the
	// network (always), its network ACLs and the listener ports. Observe
	// reads them when a plan has changes to make, and for diagnose.
	Full bool `json:"full,omitempty"`
	// PathProven is true when the target is healthy on the traffic port in
	// a covered AZ, so the security groups were not read (see observe).
	PathProven bool `json:"path-proven,omitempty"`
	// Cached is true when the target and its load balancer came from a
	// warm container's cache (observe reads the load balancer again before
	// anything is changed).
	Cached bool `json:"cached,omitempty"`
	// NetworkCached is true when Network came from a warm container's cache
	// (its ACLs then too, until Fill reads them again: NACLsCached): it
	// serves the checks only (the network ACLs, the NAT-route advice),
	// never a decision (Wants.FreshNetwork).
	NetworkCached bool `json:"network-cached,omitempty"`
	// NACLsCached is true when the network ACLs came from the cache: a
	// network ACL check that finds a rule missing in them wants them read
	// again (Wants.FreshACLs) before saying so.
	NACLsCached bool `json:"nacls-cached,omitempty"`
}

// Wants names what a plan was built without and would need: the pipeline
// reads it and plans again (observe.Fill).
type Wants struct {
	// ListenerPorts: the network ACL of the load balancer's subnet does not
	// let every port in from clients, so the check needs the listener ports
	// and they were not read (Complete reads them: for a plan built on a
	// state that did not pass through it).
	ListenerPorts bool `json:"listener-ports,omitempty"`
	// FreshNetwork: a decision (the choice of a public subnet) needs the
	// whole network, and the one at hand is cached or read for the checks
	// alone (ChecksOnly).
	FreshNetwork bool `json:"fresh-network,omitempty"`
	// FreshACLs: a network ACL check found a rule missing in cached ACLs.
	FreshACLs bool `json:"fresh-acls,omitempty"`
	// Subnets: an ACL of the path does not let everything through, so the
	// checks need the subnets' CIDRs (Network.NoSubnets).
	Subnets bool `json:"subnets,omitempty"`
}

// Any reports whether w wants anything.
func (w Wants) Any() bool { return w.ListenerPorts || w.FreshNetwork || w.FreshACLs || w.Subnets }

// Instance is an EC2 instance.
type Instance struct {
	ID             string            `json:"id"`
	State          string            `json:"state"`
	AZ             string            `json:"az"`
	VPC            string            `json:"vpc"`
	Subnet         string            `json:"subnet"`
	PrivateIP      string            `json:"private-ip"`
	SecurityGroups []string          `json:"security-groups"`
	Tags           map[string]string `json:"tags,omitempty"`
}

// Target is one resolved target: a target group, or a Classic ELB.
type Target struct {
	Ref             Ref    `json:"ref"`
	Name            string `json:"name"`
	ARN             string `json:"arn,omitempty"`
	Protocol        string `json:"protocol,omitempty"`
	Port            int32  `json:"port"`
	TargetType      string `json:"target-type,omitempty"` // instance or ip
	HealthCheckPort string `json:"health-check-port,omitempty"`
	VPC             string `json:"vpc,omitempty"`
	// AllowTag is true when the target carries elbattach:allow=true.
	AllowTag bool `json:"allow-tag"`
	// InstancePorts are a Classic ELB's listener instance ports.
	InstancePorts []int32 `json:"instance-ports,omitempty"`
	// ListenerPorts are the ports clients connect to on the load balancer
	// (read with the full state, see ListenersRead).
	ListenerPorts []int32 `json:"listener-ports,omitempty"`
	// Unrouted is true when no listener or rule forwards to the target
	// group (read with the listener ports).
	Unrouted bool `json:"unrouted,omitempty"`
	// ListenersRead is true when ListenerPorts and Unrouted were read (a
	// Classic ELB's come with its description). A run about to change
	// something reads them only when a decision needs them (see
	// observe.Complete, Wants).
	ListenersRead bool `json:"listeners-read,omitempty"`
	// PreserveClientIP is the target group's preserve_client_ip.enabled,
	// "true" or "false" (read for an NLB without security groups; "" when not
	// read).
	PreserveClientIP string `json:"preserve-client-ip,omitempty"`
	// Registrations are the ports the instance (or its IP) is registered on,
	// with their health state.
	Registrations []Registration `json:"registrations,omitempty"`
}

// Registration is the instance's presence in a target.
type Registration struct {
	ID          string `json:"id"`
	Port        int32  `json:"port"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
}

// Load balancer types.
const (
	TypeApplication = "application"
	TypeNetwork     = "network"
	TypeClassic     = "classic"
)

// LoadBalancer is an ALB, NLB or Classic ELB, normalised.
type LoadBalancer struct {
	ARN            string     `json:"arn,omitempty"`
	Name           string     `json:"name"`
	Type           string     `json:"type"`
	Scheme         string     `json:"scheme"`
	VPC            string     `json:"vpc"`
	Subnets        []LBSubnet `json:"subnets"`
	SecurityGroups []string   `json:"security-groups,omitempty"`
	// IPAddressType is ipv4, dualstack or dualstack-without-public-ipv4
	// (ELBv2; "" when not read).
	IPAddressType string `json:"ip-address-type,omitempty"`
	// ElasticIPs is true when a subnet of the (Network) load balancer has an
	// Elastic IP of its own.
	ElasticIPs bool `json:"elastic-ips,omitempty"`
	// ReadAt is when Subnets was read (from AWS, or into the cache it came
	// from): apply trusts the list for SetSubnets only while it is fresh.
	ReadAt time.Time `json:"-"`
}

// IsClassic reports whether this is a Classic Load Balancer.
func (lb LoadBalancer) IsClassic() bool { return lb.Type == TypeClassic }

// ListedAs is how ALLOWED_TARGETS may name the target besides its name: a
// target group's ARN, a Classic ELB's classic/<name> (the tag's spelling).
func (t Target) ListedAs() string {
	if t.Ref.Classic {
		return "classic/" + t.Name
	}
	return t.ARN
}

// LBSubnet is a subnet a load balancer sits in.
type LBSubnet struct {
	ID string `json:"id"`
	AZ string `json:"az"`
}

// SubnetIn returns the load balancer's subnet in az, or "".
func (lb LoadBalancer) SubnetIn(az string) string {
	for _, s := range lb.Subnets {
		if s.AZ == az {
			return s.ID
		}
	}
	return ""
}

// SubnetIDs returns the IDs of the load balancer's subnets.
func (lb LoadBalancer) SubnetIDs() []string {
	ids := make([]string, 0, len(lb.Subnets))
	for _, s := range lb.Subnets {
		ids = append(ids, s.ID)
	}
	return ids
}

// Network is the part of a VPC that subnet decisions need.
type Network struct {
	VPC         string         `json:"vpc"`
	CIDRs       []netip.Prefix `json:"cidrs"`
	IGW         string         `json:"igw,omitempty"`
	Subnets     []Subnet       `json:"subnets"`
	RouteTables []RouteTable   `json:"route-tables"`
	// NACLs are read with the full state.
	NACLs []NACL `json:"nacls,omitempty"`
	// ChecksOnly is true for a network read for the checks alone (a run in a
	// covered AZ): its network ACLs and route tables, and its subnets when
	// the checks need their CIDRs (NoSubnets until then), without CIDR
	// blocks or internet gateway. No decision is made on it.
	ChecksOnly bool `json:"checks-only,omitempty"`
	// NoSubnets is true while such a network holds no subnets, only its ACLs
	// and route tables (the ACLs' associations still name the subnets: see
	// Knows).
	NoSubnets bool `json:"no-subnets,omitempty"`
}

// Knows reports whether n knows the subnet id: a network ACL association
// names it (every subnet has one) and, unless n was read without subnets, it
// is among them. A subnet newer than either read, which a warm container's
// cache may refresh apart, is unknown.
func (n *Network) Knows(id string) bool {
	if !slices.ContainsFunc(n.NACLs, func(a NACL) bool { return slices.Contains(a.Subnets, id) }) {
		return false
	}
	_, ok := n.Subnet(id)
	return ok || n.NoSubnets
}

// Subnet returns the subnet with id.
func (n *Network) Subnet(id string) (Subnet, bool) {
	for _, s := range n.Subnets {
		if s.ID == id {
			return s, true
		}
	}
	return Subnet{}, false
}

// NACLOf returns the network ACL associated with subnet; a subnet with no
// association known (one about to be created) gets the VPC's default ACL.
func (n *Network) NACLOf(subnet string) (NACL, bool) {
	for _, a := range n.NACLs {
		if slices.Contains(a.Subnets, subnet) {
			return a, true
		}
	}
	for _, a := range n.NACLs {
		if a.Default {
			return a, true
		}
	}
	return NACL{}, false
}

// NACL is a network ACL.
type NACL struct {
	ID      string      `json:"id"`
	Default bool        `json:"default,omitempty"`
	Subnets []string    `json:"subnets"`
	Entries []NACLEntry `json:"entries"`
}

// NACLEntry is one network ACL rule.
type NACLEntry struct {
	Number   int32        `json:"number"`
	Egress   bool         `json:"egress"`
	Protocol string       `json:"protocol"` // "-1" all, "6" tcp, ...
	FromPort int32        `json:"from-port"`
	ToPort   int32        `json:"to-port"`
	CIDR     netip.Prefix `json:"cidr"`
	Allow    bool         `json:"allow"`
}

// Subnet is a VPC subnet.
type Subnet struct {
	ID      string            `json:"id"`
	AZ      string            `json:"az"`
	CIDR    netip.Prefix      `json:"cidr"`
	FreeIPs int               `json:"free-ips"`
	Tags    map[string]string `json:"tags,omitempty"`
	// Outpost: the subnet is on an AWS Outpost, not a load balancer subnet
	// of the Region's.
	Outpost bool `json:"outpost,omitempty"`
}

// RouteTable is a VPC route table, reduced to what decides "public".
type RouteTable struct {
	ID   string `json:"id"`
	Main bool   `json:"main"`
	// Subnets are the explicitly associated subnets.
	Subnets []string `json:"subnets,omitempty"`
	// DefaultIGW is the internet gateway its 0.0.0.0/0 route targets, or "".
	DefaultIGW string `json:"default-igw,omitempty"`
	// DefaultRoute: it has a 0.0.0.0/0 route of any kind (a blackhole too).
	DefaultRoute bool `json:"default-route,omitempty"`
	// DefaultNAT is the way out other than an internet gateway that
	// 0.0.0.0/0 goes to (a NAT gateway or instance, a transit gateway, a
	// firewall or GWLB endpoint, an appliance's interface, a Cloud WAN core
	// network), or "".
	DefaultNAT string            `json:"default-nat,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// RouteTableOf returns the route table that governs subnet: its explicit
// association, else the VPC's main table. ok is false when neither is known.
func (n *Network) RouteTableOf(subnet string) (rt RouteTable, explicit, ok bool) {
	for _, t := range n.RouteTables {
		if slices.Contains(t.Subnets, subnet) {
			return t, true, true
		}
	}
	for _, t := range n.RouteTables {
		if t.Main {
			return t, false, true
		}
	}
	return RouteTable{}, false, false
}

// IsPublic reports whether subnet routes 0.0.0.0/0 to an internet gateway.
func (n *Network) IsPublic(subnet string) bool {
	rt, _, ok := n.RouteTableOf(subnet)
	return ok && rt.DefaultIGW != ""
}

// SecurityGroup is a security group with its inbound rules.
type SecurityGroup struct {
	ID      string       `json:"id"`
	VPC     string       `json:"vpc"`
	Ingress []Permission `json:"ingress,omitempty"`
	Egress  []Permission `json:"egress,omitempty"`
}

// Permission is one rule, flattened to a single peer (source or destination).
type Permission struct {
	Protocol string `json:"protocol"` // "tcp", "-1" (all), ...
	FromPort int32  `json:"from-port"`
	ToPort   int32  `json:"to-port"`
	// One of SourceGroup, CIDR (IPv4), IPv6 and PrefixList is set. IPv6 and
	// prefix-list rules are kept for the rule quota only: elbattach adds
	// neither, and neither counts as allowing its peers.
	SourceGroup string       `json:"source-group,omitempty"`
	CIDR        netip.Prefix `json:"cidr,omitzero"`
	IPv6        bool         `json:"ipv6,omitempty"`
	PrefixList  string       `json:"prefix-list,omitempty"`
	Description string       `json:"description,omitempty"`
}

// AllowsTCP reports whether the rule lets TCP traffic to port through.
func (p Permission) AllowsTCP(port int32) bool { return p.Allows("tcp", port) }

// Allows reports whether the rule lets traffic of proto ("tcp" or "udp") to
// port through.
func (p Permission) Allows(proto string, port int32) bool {
	switch p.Protocol {
	case "-1", "all":
		return true
	case proto, ProtocolNumber(proto):
		return p.FromPort <= port && port <= p.ToPort
	}
	return false
}

// ProtocolNumber is the IANA number of "tcp" (6) or "udp" (17), as network ACL
// entries and some rules name them.
func ProtocolNumber(proto string) string {
	switch proto {
	case "tcp":
		return "6"
	case "udp":
		return "17"
	}
	return proto
}

// PreservesClientIP reports whether a Network Load Balancer hands the
// instance its clients' own addresses: the target group's
// preserve_client_ip.enabled when read, else AWS's default — on for instance
// targets, and for UDP, TCP_UDP and QUIC (where it cannot be turned off)
// whatever the target type; off for TCP and TLS ip targets.
func (s State) PreservesClientIP() bool {
	if slices.Contains(s.TrafficProtocols(), "udp") {
		return true
	}
	if v, err := strconv.ParseBool(s.Target.PreserveClientIP); err == nil {
		return v
	}
	return s.Target.TargetType != "ip"
}

// TrafficProtocols are the IP protocols the load balancer sends traffic to
// the instance with: UDP for a UDP or QUIC target group, TCP and UDP for
// TCP_UDP and TCP_QUIC, else TCP. Health checks are TCP whatever the target
// group carries.
func (s State) TrafficProtocols() []string {
	switch s.Target.Protocol {
	case "UDP", "QUIC":
		return []string{"udp"}
	case "TCP_UDP", "TCP_QUIC":
		return []string{"tcp", "udp"}
	}
	return []string{"tcp"}
}

// TrafficPort is the port the instance is registered on: the tag's override,
// else the target group's port.
func (s State) TrafficPort() int32 {
	if s.Target.Ref.Port != 0 {
		return s.Target.Ref.Port
	}
	return s.Target.Port
}

// TrafficPorts are the ports the load balancer sends traffic to on the
// instance: a Classic ELB's listener instance ports, else the one TrafficPort.
func (s State) TrafficPorts() []int32 {
	if s.LoadBalancer.IsClassic() && len(s.Target.InstancePorts) > 0 {
		return s.Target.InstancePorts
	}
	return []int32{s.TrafficPort()}
}

// TargetID is what the target registers: the instance ID, or its private IP
// for an ip target group.
func (s State) TargetID() string {
	if s.Target.TargetType == "ip" {
		return s.Instance.PrivateIP
	}
	return s.Instance.ID
}
