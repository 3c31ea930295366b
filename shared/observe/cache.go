package observe

import (
	"sync"
	"time"

	"github.com/elbattach/elbattach/shared/state"
)

// TargetTTL is how long a warm Lambda container trusts what it read about a
// target group and its load balancer (port, type, opt-in tag, scheme, VPC,
// subnets, security groups, and once the full checks read them, the
// listener ports). It is safe because nothing else rests on it alone: a
// revoked opt-in takes effect within 30 s; a subnet change made by someone
// else is caught by apply, which reads the load balancer afresh before
// SetSubnets when the list it has is older than half a second (cached or
// not), and by the health read after registering in a covered AZ (a
// target in an AZ that is not enabled reads unused/Target.NotInUse); a new
// listener port only feeds the warnings and FIX_NACLS, and is seen within
// 30 s. Registrations, security group rules and network ACLs are never
// cached. The pipeline forgets a target when it changed the load balancer's
// subnets, or found that AWS changed under a plan; registering the instance
// or opening a security group leaves what is cached true.
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

// targetCache maps a target reference to what was read about it.
type targetCache struct {
	mu sync.Mutex
	m  map[string]cachedTarget
}

func (c *targetCache) get(key string, ttl time.Duration) (state.Target, state.LoadBalancer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Since(e.at) > ttl {
		return state.Target{}, state.LoadBalancer{}, false
	}
	return e.target, e.lb, true
}

func (c *targetCache) put(key string, t state.Target, lb state.LoadBalancer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedTarget{}
	}
	t.Registrations = nil
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
