package plan

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// planSubnet makes sure the load balancer has a public subnet in the
// instance's AZ. The algorithm:
//
//  1. The load balancer already has a subnet in the AZ: nothing to do.
//  2. Reuse a usable public subnet of the VPC in that AZ: routed 0.0.0.0/0 to an
//     internet gateway (explicit route table, else the main one), /27 or larger,
//     at least 8 free addresses. Ties: elbattach's own subnet first, then the
//     lowest subnet ID (as the AWS Load Balancer Controller does).
//  3. Else finish a subnet elbattach created earlier in that AZ but did not get
//     to route (a run that stopped half-way, so it still uses the main route
//     table): associate it, then add it.
//  4. Else create one: the lowest free aligned block of PUBLIC_SUBNET_PREFIX in
//     the VPC's CIDR blocks, tagged, associated with a public route table of the
//     VPC (created, routed to the internet gateway, when none exists).
//
// Only one subnet per AZ is ever added, whatever the number of private subnets
// the AZ holds. Adding keeps every subnet the load balancer already has.
func planSubnet(p *Plan, s state.State, cfg config.Config) (Added, error) {
	lb, az := s.LoadBalancer, s.Instance.AZ
	if id := lb.SubnetIn(az); id != "" {
		p.note("load balancer %s already has subnet %s in %s", lb.Name, id, az)
		return Added{}, nil
	}
	if err := canAddSubnet(lb, az); err != nil {
		return Added{}, err
	}
	n := s.Network
	if n == nil {
		return Added{}, fmt.Errorf("internal: network of %s not read", s.Instance.VPC)
	}
	if s.NetworkCached || n.ChecksOnly {
		// Read for the checks while the (cached) load balancer had the AZ;
		// a subnet is chosen on a fresh read of the whole network only.
		p.Wants.FreshNetwork = true
		return Added{}, nil
	}
	add := Step{Op: AddSubnet, AZ: az, LoadBalancer: lbID(lb), LoadBalancerType: lb.Type, ListRead: lb.ReadAt}
	if sub, ok := reusable(n, az); ok {
		p.note("reusing public subnet %s (%s) in %s", sub.ID, sub.CIDR, az)
		add.Subnet, add.Subnets = sub.ID, append(lb.SubnetIDs(), sub.ID)
		p.add(add)
		return Added{ID: sub.ID, CIDR: sub.CIDR}, nil
	}
	if sub, ok := unfinished(n, az); ok {
		if err := planRoute(p, n, sub.ID); err != nil {
			return Added{}, err
		}
		add.Subnet, add.Subnets = sub.ID, append(lb.SubnetIDs(), sub.ID)
		p.add(add)
		return Added{ID: sub.ID, CIDR: sub.CIDR}, nil
	}
	if n.IGW == "" {
		return Added{}, fmt.Errorf("%w: %s has none attached, so no subnet in it can be public", ErrNoIGW, n.VPC)
	}
	if len(n.Subnets) >= MaxSubnetsPerVPC {
		return Added{}, fmt.Errorf("%w: %s has %d subnets", ErrSubnetLimit, n.VPC, len(n.Subnets))
	}
	block, ok := FreeBlock(n.CIDRs, n.Subnets, cfg.SubnetPrefix)
	if !ok {
		return Added{}, fmt.Errorf("%w: no free /%d in %s (CIDR blocks %v)", ErrNoSpace, cfg.SubnetPrefix, n.VPC, n.CIDRs)
	}
	var vpcCIDRs []string
	for _, c := range n.CIDRs {
		vpcCIDRs = append(vpcCIDRs, c.String())
	}
	var seen []string
	for _, sub := range n.Subnets {
		if sub.AZ == az {
			seen = append(seen, sub.ID)
		}
	}
	p.add(Step{Op: CreateSubnet, VPC: n.VPC, AZ: az, CIDR: block.String(), VPCCIDRs: vpcCIDRs, Seen: seen, Tags: map[string]string{
		"Name":               "elbattach-public-" + az,
		config.ManagedTagKey: "true",
	}})
	if err := planRoute(p, n, NewSubnet); err != nil {
		return Added{}, err
	}
	add.Subnet, add.Subnets = NewSubnet, append(lb.SubnetIDs(), NewSubnet)
	p.add(add)
	return Added{ID: NewSubnet, CIDR: block}, nil
}

// canAddSubnet refuses, before anything changes, the load balancers whose
// subnets need more than an IPv4 subnet: SetSubnets must keep each subnet's
// Elastic IP and would need one for the new subnet, which elbattach does not
// allocate (a static-IP load balancer must not gain an address its clients
// do not know); a dualstack load balancer needs subnets with IPv6 CIDR
// blocks.
func canAddSubnet(lb state.LoadBalancer, az string) error {
	if !regionAZ.MatchString(az) {
		return fmt.Errorf("%w: %s is not one of the Region's Availability Zones (a Local Zone or Wavelength Zone), and a load balancer does not mix those with its Availability Zones: attach instances there by hand",
			ErrUnsupported, az)
	}
	if lb.ElasticIPs {
		return fmt.Errorf("%w: %s gives its subnets Elastic IPs; a subnet in %s needs one too, and elbattach does not allocate them: add a subnet there with its Elastic IP by hand",
			ErrUnsupported, lb.Name, az)
	}
	if strings.HasPrefix(lb.IPAddressType, "dualstack") {
		return fmt.Errorf("%w: %s is %s, so its subnets need IPv6 CIDR blocks, and elbattach adds IPv4 subnets only: add a subnet in %s by hand",
			ErrUnsupported, lb.Name, lb.IPAddressType, az)
	}
	return nil
}

// regionAZ matches the name of an Availability Zone of a Region (us-east-1a,
// us-gov-west-1b, eusc-de-east-1a), not that of a Local Zone
// (us-east-1-bos-1a) or a Wavelength Zone (us-east-1-wl1-bos-wlz-1).
var regionAZ = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]+[a-z]$`)

// Added is the public subnet a plan adds to the load balancer: one of the VPC
// it reuses or finishes, or the one it creates (ID NewSubnet). It is zero when
// the load balancer already has a subnet in the instance's AZ.
type Added struct {
	ID   string
	CIDR netip.Prefix
}

// probes returns the CIDRs a decision that an existing rule or entry already
// covers cidr must hold for: cidr itself; or, for the block this plan
// creates, every CIDR block of the VPC. Apply may create the next free block
// instead (another run took this one) or adopt another run's subnet, and the
// rules written for the planned block follow it there (apply's resolve), but
// a rule left out because something covered the planned block would not.
func (a Added) probes(n *state.Network, cidr netip.Prefix) []netip.Prefix {
	if a.ID == NewSubnet && cidr == a.CIDR && n != nil && len(n.CIDRs) > 0 {
		return n.CIDRs
	}
	return []netip.Prefix{cidr}
}

// covered reports whether every prefix of inner lies inside one of outer,
// the created block standing for the whole VPC (probes) unless outer holds
// it too (then both follow it).
func (a Added) covered(n *state.Network, inner, outer []netip.Prefix) bool {
	for _, in := range inner {
		if !slices.Contains(outer, in) && !allCovered(a.probes(n, in), outer) {
			return false
		}
	}
	return true
}

// reusable returns the best usable public subnet of az.
func reusable(n *state.Network, az string) (state.Subnet, bool) {
	var cands []state.Subnet
	for _, sub := range n.Subnets {
		if sub.AZ == az && !sub.Outpost && usableSize(sub) && n.IsPublic(sub.ID) {
			cands = append(cands, sub)
		}
	}
	if len(cands) == 0 {
		return state.Subnet{}, false
	}
	slices.SortFunc(cands, func(a, b state.Subnet) int {
		am, bm := managed(a.Tags), managed(b.Tags)
		if am != bm {
			if am {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return cands[0], true
}

// unfinished returns a subnet elbattach created in az that is not public yet
// and has no route table of its own: one someone associated with another
// table since is theirs now (and AssociateRouteTable would fail on it).
func unfinished(n *state.Network, az string) (state.Subnet, bool) {
	var best state.Subnet
	for _, sub := range n.Subnets {
		if _, explicit, _ := n.RouteTableOf(sub.ID); explicit {
			continue
		}
		if sub.AZ == az && !sub.Outpost && managed(sub.Tags) && usableSize(sub) && !n.IsPublic(sub.ID) {
			if best.ID == "" || sub.ID < best.ID {
				best = sub
			}
		}
	}
	return best, best.ID != ""
}

// planRoute associates subnet with a public route table, creating one first
// when the VPC has none. A route table of elbattach's without any 0.0.0.0/0
// route (an earlier run created it and failed before routing it) is routed
// and used, rather than left behind for another.
func planRoute(p *Plan, n *state.Network, subnet string) error {
	rt, ok := publicRouteTable(n)
	if !ok {
		if n.IGW == "" {
			return fmt.Errorf("%w: %s has none attached, so no subnet in it can be public", ErrNoIGW, n.VPC)
		}
		if i := slices.IndexFunc(n.RouteTables, func(rt state.RouteTable) bool { return managed(rt.Tags) && !rt.DefaultRoute }); i >= 0 {
			rt = n.RouteTables[i].ID
			p.add(Step{Op: RouteToIGW, RouteTable: rt, IGW: n.IGW})
			p.add(Step{Op: AssociateRouteTable, Subnet: subnet, RouteTable: rt})
			return nil
		}
		p.add(Step{Op: CreateRouteTable, VPC: n.VPC, IGW: n.IGW, Tags: map[string]string{
			"Name":               "elbattach-public",
			config.ManagedTagKey: "true",
		}})
		rt = NewRouteTable
	}
	p.add(Step{Op: AssociateRouteTable, Subnet: subnet, RouteTable: rt})
	return nil
}

// publicRouteTable picks the route table a new public subnet joins: one that
// sends 0.0.0.0/0 to the internet gateway; elbattach's own first, then the
// main table, then the lowest ID.
func publicRouteTable(n *state.Network) (string, bool) {
	var cands []state.RouteTable
	for _, rt := range n.RouteTables {
		if rt.DefaultIGW != "" && (n.IGW == "" || rt.DefaultIGW == n.IGW) {
			cands = append(cands, rt)
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	rank := func(rt state.RouteTable) int {
		switch {
		case managed(rt.Tags):
			return 0
		case rt.Main:
			return 1
		}
		return 2
	}
	slices.SortFunc(cands, func(a, b state.RouteTable) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.ID, b.ID))
	})
	return cands[0].ID, true
}

func usableSize(sub state.Subnet) bool {
	return sub.CIDR.IsValid() && sub.CIDR.Bits() <= MaxLBSubnetBits && sub.FreeIPs >= MinFreeIPs
}

func managed(tags map[string]string) bool { return tags[config.ManagedTagKey] == "true" }

// lbID is how the AWS APIs name a load balancer: its ARN, or a Classic ELB's name.
func lbID(lb state.LoadBalancer) string {
	if lb.ARN != "" {
		return lb.ARN
	}
	return lb.Name
}
