package observe

import (
	"slices"
	"sync"
	"time"

	"github.com/elbattach/elbattach/shared/state"
)

// TargetTTL is how long a warm Lambda container trusts what it read about a
// target group and its load balancer (port, type, opt-in tag, scheme, VPC,
// subnets, security groups, and once the full checks read them, the
// listeners). A run that only reads (steady state) rests on it; a run
// about to change something reads the load balancer again first (Complete),
// and goes round again from a fresh read when its security groups, scheme or
// VPC moved, so no change is made from a cached load balancer. What stays
// trusted for up to 30 s: the opt-in tag (a revoked opt-in takes effect
// within 30 s), the target group's ports and type, which load balancer it
// belongs to (a target group moved to another load balancer is seen within
// 30 s), and the listener facts (the ports feed the warnings and FIX_NACLS;
// whether a listener forwards to the group also decides whether a run that
// added an AZ reads health: a group cached as routed that lost its listener
// meanwhile shows as NotInUse to the next run that reads its health, such as
// a replay or the reconcile).
// Registrations and security group rules are never cached. The pipeline
// forgets a target when it changed the load balancer's subnets, or a run
// failed; registering the instance or opening a security group leaves what
// is cached true.
//
// A VPC's network as a run about to change something read it (its network
// ACLs and route tables, with the subnets when it read them) is cached for
// as long, for the checks only: a missing network ACL rule found in it is
// read again before it is reported or fixed, so a cached network can only
// hide, for up to 30 s, an ACL broken meanwhile; the NAT-route advice may
// be as old. Fill refreshes its ACLs, or adds its subnets, in place, unless
// the fresh read names a subnet it does not know: then it is dropped (its
// route tables never saw that subnet). A decision (the public subnet of a
// new AZ, the peers of an NLB without security groups) always reads the
// network afresh, and the pipeline forgets it when it changed the network.
const TargetTTL = 30 * time.Second

type cachedTarget struct {
	target state.Target
	lb     state.LoadBalancer
	at     time.Time
	// listeners is nil until the full checks read them.
	listeners *listenerFacts
}

// listenerFacts are what the listeners of an ELBv2 load balancer say about
// a target group.
type listenerFacts struct {
	ports    []int32
	unrouted bool
}

// targetCache maps a target reference to what was read about it, and a VPC
// to its network.
type targetCache struct {
	mu       sync.Mutex
	m        map[string]cachedTarget
	networks map[string]cachedNetwork
}

type cachedNetwork struct {
	n  *state.Network
	at time.Time
}

// network returns a shallow copy of vpc's cached network (nil: none fresh).
func (c *targetCache) network(vpc string, ttl time.Duration) *state.Network {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.networks[vpc]
	if !ok || time.Since(e.at) > ttl {
		return nil
	}
	n := *e.n
	return &n
}

func (c *targetCache) putNetwork(vpc string, n *state.Network) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.networks == nil {
		c.networks = map[string]cachedNetwork{}
	}
	cp := *n
	c.networks[vpc] = cachedNetwork{n: &cp, at: time.Now()}
}

// putNACLs replaces the ACLs of vpc's cached network by a fresh read of them;
// the entry keeps its age (its subnets and route tables were not read
// again). When the fresh ACLs name a subnet the entry does not know, the
// entry is dropped instead: its other parts never saw that subnet (its
// route tables would give it the main table's routes).
func (c *targetCache) putNACLs(vpc string, acls []state.NACL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.networks[vpc]; ok {
		for _, a := range acls {
			if slices.ContainsFunc(a.Subnets, func(id string) bool { return !e.n.Knows(id) }) {
				delete(c.networks, vpc)
				return
			}
		}
		n := *e.n
		n.NACLs = acls
		c.networks[vpc] = cachedNetwork{n: &n, at: e.at}
	}
}

// putSubnets adds the subnets to vpc's cached network read without them; the
// entry keeps its age. A subnet the entry does not know drops it, as in
// putNACLs.
func (c *targetCache) putSubnets(vpc string, subnets []state.Subnet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.networks[vpc]; ok && e.n.NoSubnets {
		if !knowsAll(e.n, subnets) {
			delete(c.networks, vpc)
			return
		}
		n := *e.n
		n.Subnets, n.NoSubnets = subnets, false
		c.networks[vpc] = cachedNetwork{n: &n, at: e.at}
	}
}

func (c *targetCache) forgetNetwork(vpc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.networks, vpc)
}

func (c *targetCache) get(key string, ttl time.Duration) (state.Target, state.LoadBalancer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Since(e.at) > ttl {
		return state.Target{}, state.LoadBalancer{}, false
	}
	lb := e.lb
	lb.Subnets, lb.SecurityGroups = slices.Clone(lb.Subnets), slices.Clone(lb.SecurityGroups)
	return e.target, lb, true
}

// refresh replaces key's cached load balancer by a fresh read of it; the
// entry keeps its age (the target group and its tags were not read again).
func (c *targetCache) refresh(key string, lb state.LoadBalancer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.lb.ARN == lb.ARN {
		lb.Subnets, lb.SecurityGroups = slices.Clone(lb.Subnets), slices.Clone(lb.SecurityGroups)
		e.lb = lb
		c.m[key] = e
	}
}

func (c *targetCache) put(key string, t state.Target, lb state.LoadBalancer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedTarget{}
	}
	t.Registrations = nil
	// The run goes on with lb: the cache keeps slices of its own.
	lb.Subnets, lb.SecurityGroups = slices.Clone(lb.Subnets), slices.Clone(lb.SecurityGroups)
	c.m[key] = cachedTarget{target: t, lb: lb, at: time.Now()}
}

// listeners returns the listener facts cached with key's target.
func (c *targetCache) listeners(key, lbARN string, ttl time.Duration) (listenerFacts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || e.listeners == nil || e.lb.ARN != lbARN || time.Since(e.at) > ttl {
		return listenerFacts{}, false
	}
	return *e.listeners, true
}

// putListeners adds listener facts to key's cached target, if it is cached
// with that load balancer (they expire with it).
func (c *targetCache) putListeners(key, lbARN string, f listenerFacts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.lb.ARN == lbARN {
		e.listeners = &f
		c.m[key] = e
	}
}

func (c *targetCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}
