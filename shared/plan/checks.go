package plan

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// Ephemeral ports: the range return traffic uses (AWS recommends 1024-65535
// in network ACLs to cover every client OS).
const (
	EphemeralFrom = 1024
	EphemeralTo   = 65535
)

var anywhere = netip.MustParsePrefix("0.0.0.0/0")

// NACLRule is one rule a network ACL needs for the path client -> load
// balancer -> instance and back.
type NACLRule struct {
	ACL, Subnet, Role string // Role: "public" or "instance"
	Proto             string // "tcp" or "udp"
	Egress            bool
	CIDR              netip.Prefix
	From, To          int32
	Why               string
	// InUse are the rule numbers the ACL already has in this direction.
	InUse []int32
	// Deny is the number of the ACL's first explicit deny entry (not the "*"
	// catch-all) that touches the traffic, 0 when none does: an operator's
	// decision, which FIX_NACLS leaves in place.
	Deny int32
}

func (r NACLRule) String() string {
	dir := "inbound " + r.Proto + "/%s from %s"
	if r.Egress {
		dir = "outbound " + r.Proto + "/%s to %s"
	}
	ports := fmt.Sprint(r.From)
	if r.To != r.From {
		ports = fmt.Sprintf("%d-%d", r.From, r.To)
	}
	s := fmt.Sprintf("network ACL %s of %s subnet %s does not allow "+dir+" (%s)", r.ACL, r.Role, r.Subnet, ports, r.CIDR, r.Why)
	if r.Deny != 0 {
		s += fmt.Sprintf(": its rule %d denies it", r.Deny)
	}
	return s
}

// planChecks looks at what elbattach does not manage by default: network ACLs
// (warned about, or fixed with FIX_NACLS), the load balancer's own group
// towards clients, and the instance's route to a NAT gateway.
//
// Some of its inputs may be missing or old (see observe.Complete); the plan
// then wants them: the subnets' CIDRs, when an ACL of the path does not let
// everything through; the listener ports, when they were not read and the
// load balancer's subnet's ACL does not let every port in from clients; the
// ACLs afresh, when a rule is missing from cached ones; the whole network,
// when the cached one does not know the load balancer's subnet in the AZ.
func planChecks(p *Plan, s state.State, cfg config.Config, added Added) error {
	missing := MissingNACLRules(s, cfg.NLBClientCIDRs, added)
	if s.NACLsCached && len(missing) > 0 {
		p.Wants.FreshACLs = true
	}
	if pub, _ := publicSubnet(s, added); s.NetworkCached && !s.Network.Knows(pub) {
		p.Wants.FreshNetwork = true // the load balancer's subnet there is newer than the cache
	}
	if s.Network != nil && s.Network.NoSubnets && !pathACLsOpen(s, added) {
		p.Wants.Subnets = true
	}
	if !s.Target.ListenersRead && !openToClients(s, added) {
		p.Wants.ListenerPorts = true
	}
	if cfg.FixNACLs {
		planNACLFixes(p, missing)
	} else {
		for _, r := range missing {
			p.warn("%s", r)
		}
	}
	for _, w := range listenerWarnings(s) {
		p.warn("%s", w)
	}
	if s.Target.Unrouted {
		p.warn("no listener or rule of %s forwards to target group %s: a registered target gets no traffic (it shows as unused, Target.NotInUse)", s.LoadBalancer.Name, s.Target.Name)
	}
	if w := natWarning(s); w != "" {
		p.warn("%s", w)
	}
	return nil
}

// pathACLsOpen reports whether the network ACLs of both subnets of the path
// let everything of its protocols in and out, from and to anywhere: then no
// rule can be missing, whatever the subnets' CIDRs.
func pathACLsOpen(s state.State, added Added) bool {
	protos := protosOf(flows(s))
	for _, p := range listenerProtocols(s) {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	pubID, _ := publicSubnet(s, added)
	return aclsOpen(s.Network, []string{pubID, s.Instance.Subnet}, protos, false, true)
}

// openToClients reports whether the network ACL of the load balancer's
// subnet in the instance's AZ (or of the one the plan adds) lets every port
// in from anywhere, for each protocol clients use: then which ports the
// listeners have does not matter to the checks.
func openToClients(s state.State, added Added) bool {
	pubID, _ := publicSubnet(s, added)
	return aclsOpen(s.Network, []string{pubID}, listenerProtocols(s), false)
}

// aclsOpen reports whether the network ACL of each of subnets lets every port
// (1-65535) of each of protos through from and to anywhere, before any deny,
// in each direction of egress (false: inbound). Without ACLs there is
// nothing to check.
func aclsOpen(n *state.Network, subnets, protos []string, egress ...bool) bool {
	if n == nil || len(n.NACLs) == 0 {
		return true
	}
	for _, id := range subnets {
		acl, _ := n.NACLOf(id)
		for _, proto := range protos {
			for _, out := range egress {
				if !NACLAllowsProto(acl, proto, out, anywhere, 1, 65535) {
					return false
				}
			}
		}
	}
	return true
}

// MissingNACLRules lists the network ACL rules the path needs and lacks:
// on the public subnet, listener ports in from clients, ephemeral ports out to
// them, the traffic and health-check ports out to the instance subnet and
// ephemeral ports back; on the instance subnet, those ports in from the
// public subnet and ephemeral ports out to it. When a Network Load Balancer
// preserves client IPs, the instance sees the clients' own addresses
// (clients: NLB_CLIENT_CIDRS): its subnet must let the traffic ports in from
// them, and ephemeral ports out to them, too.
func MissingNACLRules(s state.State, clients []netip.Prefix, added Added) []NACLRule {
	n := s.Network
	if n == nil || len(n.NACLs) == 0 {
		return nil
	}
	pubID, pubCIDR := publicSubnet(s, added)
	inst, ok := n.Subnet(s.Instance.Subnet)
	if !pubCIDR.IsValid() || !ok {
		return nil
	}
	pubACL, _ := n.NACLOf(pubID)
	instACL, _ := n.NACLOf(inst.ID)
	var want []NACLRule
	pub := func(proto string, egress bool, cidr netip.Prefix, from, to int32, why string) {
		want = append(want, NACLRule{ACL: pubACL.ID, Subnet: pubID, Role: "public", Proto: proto, Egress: egress, CIDR: cidr, From: from, To: to, Why: why})
	}
	priv := func(proto string, egress bool, cidr netip.Prefix, from, to int32, why string) {
		want = append(want, NACLRule{ACL: instACL.ID, Subnet: inst.ID, Role: "instance", Proto: proto, Egress: egress, CIDR: cidr, From: from, To: to, Why: why})
	}
	fs := flows(s)
	protos := protosOf(fs)
	for _, proto := range listenerProtocols(s) {
		for _, lp := range s.Target.ListenerPorts {
			pub(proto, false, anywhere, lp, lp, "clients to the listener")
		}
		pub(proto, true, anywhere, EphemeralFrom, EphemeralTo, "responses to clients")
	}
	preserved := s.LoadBalancer.Type == state.TypeNetwork && s.PreservesClientIP()
	traffic := trafficFlows(s)
	for _, f := range fs {
		pub(f.proto, true, inst.CIDR, f.port, f.port, "load balancer to the instance")
		if !preserved || !slices.Contains(traffic, f) || !added.covered(n, []netip.Prefix{pubCIDR}, clients) {
			priv(f.proto, false, pubCIDR, f.port, f.port, "load balancer to the instance")
		}
		if preserved && slices.Contains(traffic, f) {
			for _, c := range clients {
				priv(f.proto, false, c, f.port, f.port, "clients through the load balancer, their IPs preserved")
			}
		}
	}
	for _, proto := range protos {
		pub(proto, false, inst.CIDR, EphemeralFrom, EphemeralTo, "instance responses")
		if !preserved || !slices.Contains(protosOf(traffic), proto) || !added.covered(n, []netip.Prefix{pubCIDR}, clients) {
			// (the clients' rule below, which would cover it, is for the
			// traffic protocols only: a UDP target group's TCP health
			// checks still need their responses out)
			priv(proto, true, pubCIDR, EphemeralFrom, EphemeralTo, "responses to the load balancer")
		}
		if preserved && slices.Contains(protosOf(traffic), proto) {
			for _, c := range clients {
				priv(proto, true, c, EphemeralFrom, EphemeralTo, "responses to the clients, their IPs preserved")
			}
		}
	}
	acls := map[string]state.NACL{pubACL.ID: pubACL, instACL.ID: instACL}
	var missing []NACLRule
	for _, r := range want {
		acl := acls[r.ACL]
		allowed := true
		for _, c := range added.probes(n, r.CIDR) {
			allowed = allowed && NACLAllowsProto(acl, r.Proto, r.Egress, c, r.From, r.To)
		}
		if !allowed {
			for _, e := range sortedEntries(acl) {
				if e.Egress != r.Egress {
					continue
				}
				r.InUse = append(r.InUse, e.Number)
				if r.Deny == 0 && !e.Allow && e.Number < CatchAllRule && touches(e, r.Proto, r.CIDR, r.From, r.To) {
					r.Deny = e.Number
				}
			}
			missing = append(missing, r)
		}
	}
	return missing
}

func protosOf(fs []flow) []string {
	var out []string
	for _, f := range fs {
		if !slices.Contains(out, f.proto) {
			out = append(out, f.proto)
		}
	}
	return out
}

// publicSubnet returns the load balancer's subnet in the instance's AZ (or the
// one this plan adds) and its CIDR. A subnet the plan creates has the VPC's
// default network ACL (NACLOf's answer for an unknown ID); one it reuses or
// finishes keeps its own.
func publicSubnet(s state.State, added Added) (string, netip.Prefix) {
	if id := s.LoadBalancer.SubnetIn(s.Instance.AZ); id != "" {
		sub, _ := s.Network.Subnet(id)
		return id, sub.CIDR
	}
	return added.ID, added.CIDR
}

// CatchAllRule is the number of a network ACL's "*" entry, the deny that
// ends each direction.
const CatchAllRule = 32767

// NACLAllows evaluates acl as AWS does — entries in rule-number order, the
// first that matches decides — for TCP ports from..to and peers in cidr. To
// stay safe it answers true only when an entry allows all of the traffic and
// no deny touches it before that: an allow of part of it lets that part
// through and the rest goes on to the next entries; a deny of any part of it
// answers false.
func NACLAllows(acl state.NACL, egress bool, cidr netip.Prefix, from, to int32) bool {
	return NACLAllowsProto(acl, "tcp", egress, cidr, from, to)
}

// NACLAllowsProto is NACLAllows for proto ("tcp" or "udp").
func NACLAllowsProto(acl state.NACL, proto string, egress bool, cidr netip.Prefix, from, to int32) bool {
	for _, e := range sortedEntries(acl) {
		if e.Egress != egress || !touches(e, proto, cidr, from, to) {
			continue
		}
		if !e.Allow {
			return false
		}
		coversPorts := e.Protocol == "-1" || (e.FromPort <= from && to <= e.ToPort)
		coversPeers := e.CIDR.Bits() <= cidr.Bits() && e.CIDR.Contains(cidr.Addr())
		if coversPorts && coversPeers {
			return true
		}
	}
	return false
}

// touches reports whether entry e matches some of the traffic of proto on
// ports from..to with peers in cidr.
func touches(e state.NACLEntry, proto string, cidr netip.Prefix, from, to int32) bool {
	if !(e.Protocol == "-1" || e.Protocol == state.ProtocolNumber(proto)) || !e.CIDR.Overlaps(cidr) {
		return false
	}
	return e.Protocol == "-1" || (e.FromPort <= to && from <= e.ToPort)
}

func sortedEntries(acl state.NACL) []state.NACLEntry {
	entries := slices.Clone(acl.Entries)
	slices.SortFunc(entries, func(a, b state.NACLEntry) int { return cmp.Compare(a.Number, b.Number) })
	return entries
}

// planNACLFixes adds the missing rules at the lowest free rule numbers of
// each ACL and direction, never touching existing entries. A rule an
// explicit deny entry touches is only warned about: an allow numbered before
// that deny would override the operator's decision, and one numbered after it
// would still leave the traffic denied.
func planNACLFixes(p *Plan, missing []NACLRule) {
	used := map[string]bool{}
	key := func(acl string, egress bool, n int32) string { return fmt.Sprint(acl, egress, n) }
	for _, r := range missing {
		if r.Deny != 0 {
			p.warn("%s; FIX_NACLS leaves the operator's deny entries alone", r)
			continue
		}
		n := int32(1)
		for used[key(r.ACL, r.Egress, n)] || slices.Contains(r.InUse, n) {
			n++
		}
		used[key(r.ACL, r.Egress, n)] = true
		p.add(Step{Op: AddNACLEntry, NACL: r.ACL, RuleNumber: n, Egress: r.Egress, Protocol: state.ProtocolNumber(r.Proto),
			FromPort: r.From, ToPort: r.To, SourceCIDR: r.CIDR.String()})
	}
}

// listenerWarnings says which listener ports the load balancer's groups do
// not open to clients (any CIDR source counts).
func listenerWarnings(s state.State) []string {
	if len(s.LoadBalancer.SecurityGroups) == 0 || len(s.LBGroups) == 0 {
		return nil
	}
	var out []string
	for _, proto := range listenerProtocols(s) {
		for _, lp := range s.Target.ListenerPorts {
			open := false
			for _, g := range s.LBGroups {
				for _, r := range g.Ingress {
					if r.CIDR.IsValid() && r.Allows(proto, lp) {
						open = true
					}
				}
			}
			if !open {
				out = append(out, fmt.Sprintf("load balancer %s: its security groups %v do not allow listener port %s/%d from clients",
					s.LoadBalancer.Name, s.LoadBalancer.SecurityGroups, proto, lp))
			}
		}
	}
	return out
}

// listenerProtocols are the protocols clients use towards the listeners: a
// Network Load Balancer's listener carries its target group's protocols
// (UDP, TCP_UDP, QUIC), every other listener TCP.
func listenerProtocols(s state.State) []string {
	if s.LoadBalancer.Type == state.TypeNetwork {
		return s.TrafficProtocols()
	}
	return []string{"tcp"}
}

// natWarning says when the instance's subnet has no default route to a NAT
// gateway (or to an internet gateway): the instance cannot fetch patches.
func natWarning(s state.State) string {
	if s.Network == nil {
		return ""
	}
	rt, _, ok := s.Network.RouteTableOf(s.Instance.Subnet)
	if !ok || rt.DefaultNAT != "" || rt.DefaultIGW != "" {
		return ""
	}
	return fmt.Sprintf("instance subnet %s (route table %s) has no 0.0.0.0/0 route to a NAT gateway: the instance cannot reach the internet for patches",
		s.Instance.Subnet, rt.ID)
}
