package observe

import (
	"testing"
	"time"

	"github.com/elbattach/elbattach/shared/state"
)

// TestCachedNetworkRefresh: Fill's fresh ACLs or subnets refresh a cached
// network in place while they name only subnets it knows; a read that names
// a subnet it does not know drops it, as its route tables never saw that
// subnet (each half tested alone: the pipeline test,
// TestCachedRouteTablesNewSubnet, meets the subnets' drop first).
func TestCachedNetworkRefresh(t *testing.T) {
	acls := func(id string, subnets ...string) []state.NACL {
		return []state.NACL{{ID: id, Default: true, Subnets: subnets}}
	}
	subnets := func(ids ...string) []state.Subnet {
		var out []state.Subnet
		for _, id := range ids {
			out = append(out, state.Subnet{ID: id})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		put  func(*targetCache)
		kept func(*state.Network) bool // nil: dropped
	}{
		{"ACLs of known subnets", func(c *targetCache) { c.putNACLs("vpc", acls("acl-new", "a", "b")) },
			func(n *state.Network) bool { return n.NACLs[0].ID == "acl-new" && n.NoSubnets }},
		{"ACLs naming a new subnet", func(c *targetCache) { c.putNACLs("vpc", acls("acl-new", "a", "b", "x")) }, nil},
		{"the subnets, all known", func(c *targetCache) { c.putSubnets("vpc", subnets("a", "b")) },
			func(n *state.Network) bool { return !n.NoSubnets && len(n.Subnets) == 2 && n.NACLs[0].ID == "acl-old" }},
		{"the subnets with a new one", func(c *targetCache) { c.putSubnets("vpc", subnets("a", "b", "x")) }, nil},
	} {
		c := &targetCache{}
		c.putNetwork("vpc", &state.Network{VPC: "vpc", NACLs: acls("acl-old", "a", "b"),
			RouteTables: []state.RouteTable{{ID: "rtb-main", Main: true}}, ChecksOnly: true, NoSubnets: true})
		tc.put(c)
		n := c.network("vpc", time.Minute)
		switch {
		case tc.kept == nil && n != nil:
			t.Errorf("%s: cached network kept: %+v", tc.name, n)
		case tc.kept != nil && (n == nil || !tc.kept(n)):
			t.Errorf("%s: cached network %+v, want it refreshed in place", tc.name, n)
		}
	}
}

// TestCachedLoadBalancerOwnSlices: the cache keeps slices of its own of the
// load balancer it is given, so that the run, which goes on with that value
// (filling in the AZs of its subnets), never writes into what another run
// reads from the cache.
func TestCachedLoadBalancerOwnSlices(t *testing.T) {
	c := &targetCache{}
	lb := state.LoadBalancer{ARN: "arn:lb", Subnets: []state.LBSubnet{{ID: "subnet-a"}}, SecurityGroups: []string{"sg-1"}}
	c.put("web", state.Target{Name: "web"}, lb)
	lb.Subnets[0].AZ, lb.SecurityGroups[0] = "written by the run", "sg-written"
	_, got, ok := c.get("web", time.Minute)
	if !ok || got.Subnets[0].AZ != "" || got.SecurityGroups[0] != "sg-1" {
		t.Errorf("cached load balancer %+v (found %v): the run's writes reached it", got, ok)
	}
}
