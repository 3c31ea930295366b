package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// peer is the other end of a rule: a security group or a CIDR block.
type peer struct {
	group string
	cidr  netip.Prefix
}

func (p peer) String() string {
	if p.group != "" {
		return p.group
	}
	return p.cidr.String()
}

// flow is a protocol ("tcp" or "udp") and a port traffic reaches the
// instance on.
type flow struct {
	proto string
	port  int32
}

func (f flow) String() string { return fmt.Sprintf("%s/%d", f.proto, f.port) }

// trafficFlows are each traffic protocol on each traffic port.
func trafficFlows(s state.State) []flow {
	var out []flow
	for _, proto := range s.TrafficProtocols() {
		for _, port := range s.TrafficPorts() {
			out = append(out, flow{proto, port})
		}
	}
	return out
}

// flows are the traffic flows and TCP to the health-check port.
func flows(s state.State) []flow {
	out := trafficFlows(s)
	if hc := (flow{"tcp", HealthCheckPort(s)}); !slices.Contains(out, hc) {
		out = append(out, hc)
	}
	return out
}

func joinFlows(fs []flow) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, ",")
}

// need is one flow that must be open from some peers.
type need struct {
	flow
	peers []peer
	why   string
}

// planIngress opens the instance to the load balancer on every traffic port
// and the health-check port.
//
// The peers are the load balancer's security groups when it has any (ALB,
// Classic ELB, NLB created with groups). An NLB without groups shows the
// instance other addresses: on the traffic port the clients' own,
// NLB_CLIENT_CIDRS, when it preserves client IPs (the target group's
// preserve_client_ip.enabled: by default for instance targets, and always for
// UDP), else its nodes', the CIDRs of its subnets; on the health-check port
// its nodes' (the VPC's CIDR blocks for instance targets that preserve client
// IPs).
//
// A port counts as open when any of the instance's groups lets TCP to it in
// from the peer: the same group, or a CIDR block containing the peer's. Else
// a rule goes on the instance's first group, marked as elbattach's by its
// description. Adding never passes the group's rule quota.
func planIngress(p *Plan, s state.State, cfg config.Config, added Added) error {
	if s.PathProven {
		p.note("target healthy on tcp/%d: the load balancer reaches the instance (security groups not read)", s.TrafficPort())
		return nil
	}
	if len(s.Instance.SecurityGroups) == 0 {
		return fmt.Errorf("%w: instance %s", ErrNoGroups, s.Instance.ID)
	}
	needs, err := ingressNeeds(p, s, cfg, added)
	if err != nil {
		return err
	}
	group := s.Instance.SecurityGroups[0]
	var adds []Step
	for _, n := range needs {
		// Any one of the load balancer's groups suffices (its traffic carries
		// them all); CIDR blocks are each needed.
		sets := [][]peer{n.peers}
		if n.peers[0].group == "" {
			sets = nil
			for _, pr := range n.peers {
				sets = append(sets, []peer{pr})
			}
		}
		for _, set := range sets {
			if by := allowedByAll(s.InstanceGroups, set, n.flow, added, s.Network); by != "" {
				p.note("%s already allowed into the instance from %s by %s", n.flow, set[0], by)
				continue
			}
			st := Step{Op: AuthorizeIngress, Group: group, Protocol: n.proto, Port: n.port, Description: RuleDescription}
			if set[0].group != "" {
				st.SourceGroup = set[0].group
			} else {
				st.SourceCIDR, st.Description = set[0].cidr.String(), RuleDescription+" ("+n.why+")"
			}
			adds = append(adds, st)
		}
	}
	if err := checkQuota(s.InstanceGroups, group, false, adds); err != nil {
		return err
	}
	p.Steps = append(p.Steps, adds...)
	return nil
}

// ingressNeeds lists each port and the peers it must be open from.
func ingressNeeds(p *Plan, s state.State, cfg config.Config, added Added) ([]need, error) {
	lb := s.LoadBalancer
	hc := flow{"tcp", HealthCheckPort(s)}
	traffic := trafficFlows(s)
	var needs []need
	if len(lb.SecurityGroups) > 0 {
		for _, f := range flows(s) {
			needs = append(needs, need{flow: f, peers: withAll(nil, lb.SecurityGroups), why: "load balancer"})
		}
		return needs, nil
	}
	if lb.Type != state.TypeNetwork {
		return nil, fmt.Errorf("%w: load balancer %s has no security group", ErrUnsupported, lb.Name)
	}
	if s.Network == nil {
		return nil, fmt.Errorf("internal: network of %s not read", s.Instance.VPC)
	}
	// Traffic comes from the clients' own addresses when the NLB preserves
	// them, else from its nodes; health checks come from the nodes, inside
	// the VPC. A health-check rule the traffic rule on the same flow covers
	// is not added.
	nodes := nlbNodeCIDRs(s, added.CIDR)
	clients, why := cfg.NLBClientCIDRs, "NLB clients"
	if !s.PreservesClientIP() {
		clients, why = nodes, "NLB nodes"
	}
	for _, f := range traffic {
		needs = append(needs, need{flow: f, peers: cidrPeers(clients), why: why})
	}
	if s.PreservesClientIP() && slices.Contains(cfg.NLBClientCIDRs, netip.MustParsePrefix("0.0.0.0/0")) {
		p.warn("NLB %s has no security group and preserves client IPs: %s is opened to 0.0.0.0/0 (NLB_CLIENT_CIDRS, default); set NLB_CLIENT_CIDRS to narrow it", lb.Name, joinFlows(traffic))
	}
	checkers, hcWhy := s.Network.CIDRs, "NLB health checks"
	if s.Target.TargetType == "ip" || !s.PreservesClientIP() {
		checkers, hcWhy = nodes, "NLB nodes"
	}
	if !slices.Contains(traffic, hc) || !added.covered(s.Network, checkers, clients) {
		needs = append(needs, need{flow: hc, peers: cidrPeers(checkers), why: hcWhy})
	}
	return needs, nil
}

// nlbNodeCIDRs are the CIDRs of the NLB's subnets, with the one being added.
func nlbNodeCIDRs(s state.State, added netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, ls := range s.LoadBalancer.Subnets {
		if sub, ok := s.Network.Subnet(ls.ID); ok {
			out = append(out, sub.CIDR)
		}
	}
	if added.IsValid() && !slices.Contains(out, added) {
		out = append(out, added)
	}
	return out
}

// planEgress lets the load balancer's groups send to the instance when they
// restrict egress (the default group egress, all traffic to 0.0.0.0/0, allows
// it already).
func planEgress(p *Plan, s state.State) error {
	lb := s.LoadBalancer
	if s.PathProven || len(lb.SecurityGroups) == 0 || len(s.LBGroups) == 0 {
		return nil
	}
	dest := withAll(nil, s.Instance.SecurityGroups)
	if ip, err := netip.ParseAddr(s.Instance.PrivateIP); err == nil {
		dest = append(dest, peer{cidr: netip.PrefixFrom(ip, 32)})
	}
	group := lb.SecurityGroups[0]
	var adds []Step
	for _, f := range flows(s) {
		if by := allowedBy(s.LBGroups, true, dest, f); by != "" {
			continue
		}
		adds = append(adds, Step{Op: AuthorizeEgress, Group: group, DestGroup: s.Instance.SecurityGroups[0],
			Protocol: f.proto, Port: f.port, Description: EgressDescription})
	}
	if err := checkQuota(s.LBGroups, group, true, adds); err != nil {
		return err
	}
	p.Steps = append(p.Steps, adds...)
	return nil
}

// allowedByAll is allowedBy for a set of peers, the block this plan creates
// standing for every CIDR block of the VPC (Added.probes): each must be let
// in, by the same group or not.
func allowedByAll(groups []state.SecurityGroup, set []peer, f flow, added Added, n *state.Network) string {
	if len(set) != 1 || set[0].group != "" {
		return allowedBy(groups, false, set, f)
	}
	by := ""
	for _, c := range added.probes(n, set[0].cidr) {
		if by = allowedBy(groups, false, []peer{{cidr: c}}, f); by == "" {
			return ""
		}
	}
	return by
}

// allowedBy returns the group whose rule (egress or ingress) lets flow f
// through to or from one of peers, or "".
func allowedBy(groups []state.SecurityGroup, egress bool, peers []peer, f flow) string {
	for _, g := range groups {
		rules := g.Ingress
		if egress {
			rules = g.Egress
		}
		for _, r := range rules {
			if r.Allows(f.proto, f.port) && slices.ContainsFunc(peers, func(pr peer) bool { return covers(r, pr) }) {
				return g.ID
			}
		}
	}
	return ""
}

// covers reports whether rule r's peer includes pr.
func covers(r state.Permission, pr peer) bool {
	if pr.group != "" {
		return r.SourceGroup == pr.group
	}
	return r.CIDR.IsValid() && pr.cidr.IsValid() && r.CIDR.Bits() <= pr.cidr.Bits() && r.CIDR.Contains(pr.cidr.Addr())
}

// checkQuota refuses adds that would take group id past the rules-per-group
// quota, which AWS applies to IPv4 and to IPv6 rules apart; a rule that
// names a security group or a prefix list counts toward both (a prefix list
// counts here as one rule, though AWS counts its maximum entries).
func checkQuota(groups []state.SecurityGroup, id string, egress bool, adds []Step) error {
	if len(adds) == 0 {
		return nil
	}
	for _, g := range groups {
		if g.ID != id {
			continue
		}
		rules, dir := g.Ingress, "inbound"
		if egress {
			rules, dir = g.Egress, "outbound"
		}
		var v4, v6, add6 int
		for _, r := range rules {
			switch {
			case r.IPv6:
				v6++
			case r.SourceGroup != "" || r.PrefixList != "":
				v4++
				v6++
			default:
				v4++
			}
		}
		for _, st := range adds {
			if st.SourceGroup != "" || st.DestGroup != "" {
				add6++
			}
		}
		if v4+len(adds) > MaxRulesPerGroup {
			return fmt.Errorf("%w: %s has %d IPv4 %s rules, adding %d exceeds the quota of %d", ErrRuleLimit, id, v4, dir, len(adds), MaxRulesPerGroup)
		}
		if v6+add6 > MaxRulesPerGroup {
			return fmt.Errorf("%w: %s has %d IPv6 %s rules (those naming a group count for both), adding %d that name a group exceeds the quota of %d",
				ErrRuleLimit, id, v6, dir, add6, MaxRulesPerGroup)
		}
	}
	return nil
}

// allCovered reports whether each of inner lies inside one of outer.
func allCovered(inner, outer []netip.Prefix) bool {
	for _, in := range inner {
		if !slices.ContainsFunc(outer, func(o netip.Prefix) bool { return o.Bits() <= in.Bits() && o.Contains(in.Addr()) }) {
			return false
		}
	}
	return true
}

func withAll(ps []peer, groups []string) []peer {
	for _, g := range groups {
		ps = append(ps, peer{group: g})
	}
	return ps
}

func cidrPeers(cidrs []netip.Prefix) []peer {
	ps := make([]peer, 0, len(cidrs))
	for _, c := range cidrs {
		ps = append(ps, peer{cidr: c})
	}
	return ps
}
