package observe

import (
	"sync"
	"time"

	"github.com/elbattach/elbattach/shared/state"
)

// TargetTTL is how long a warm Lambda container trusts what it read about a
// target group and its load balancer (port, type, opt-in tag, scheme, VPC,
// subnets, security groups). It is safe because nothing else rests on it
// alone: a revoked opt-in takes effect within 30 s; a subnet change made by
// someone else is caught by apply, which reads the load balancer afresh
// before SetSubnets when the list it has is older than half a second (a
// cached one always is), and by the health read after registering in a
// covered AZ (a target in an AZ that is not enabled reads
// unused/Target.NotInUse). Registrations and
// security group rules are never cached. The pipeline forgets a target as
// soon as it changes it, or finds that AWS changed under a plan.
const TargetTTL = 30 * time.Second

type cachedTarget struct {
	target state.Target
	lb     state.LoadBalancer
	at     time.Time
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

func (c *targetCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}
