package fakeaws

import (
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Register registers id in a target group on port (0: the group's port),
// healthy, as RegisterTargets does (an instance must be running).
func (w *World) Register(tg, id string, port int32) {
	t := elbv2types.TargetDescription{Id: aws.String(id)}
	if port != 0 {
		t.Port = aws.Int32(port)
	}
	w.locked(func() { must("Register", w.register(tg, []elbv2types.TargetDescription{t}, "healthy", "")) })
}

// SetTargetHealth pins the health DescribeTargetHealth reports for a
// registered target (state "draining", reason "Target.DeregistrationInProgress", ...).
func (w *World) SetTargetHealth(tg, id string, port int32, state, reason string) {
	w.locked(func() {
		g := w.db.TargetGroups[tg]
		for i, t := range g.Targets {
			if t.ID == id && t.Port == port {
				g.Targets[i].State, g.Targets[i].Reason, g.Targets[i].Pinned = state, reason, true
				return
			}
		}
		panic("fakeaws: SetTargetHealth: " + id + " is not registered in " + tg)
	})
}

// RegisterClassic registers instances with a Classic ELB, InService.
func (w *World) RegisterClassic(name string, ids ...string) {
	w.locked(func() {
		lb := w.db.Classic[name]
		for _, id := range ids {
			if w.db.Instances[id] == nil {
				panic("fakeaws: RegisterClassic: no instance " + id)
			}
			if !slices.Contains(lb.Instances, id) {
				lb.Instances = append(lb.Instances, id)
			}
			lb.Health[id] = InstanceHealth{State: "InService", Reason: "N/A", Description: "N/A"}
		}
	})
}

// SetClassicHealth sets what DescribeInstanceHealth reports for an instance
// registered with a Classic ELB (in an AZ the load balancer covers).
func (w *World) SetClassicHealth(name, id string, h InstanceHealth) {
	w.locked(func() {
		lb := w.db.Classic[name]
		if !slices.Contains(lb.Instances, id) {
			panic("fakeaws: SetClassicHealth: " + id + " is not registered with " + name)
		}
		lb.Health[id] = h
	})
}

// SetLBSubnets replaces an ELBv2 load balancer's subnets, as SetSubnets does
// (refusals included) but unrecorded: another writer, for hooks.
func (w *World) SetLBSubnets(arn string, subnets ...string) {
	w.locked(func() {
		lb := w.db.LoadBalancers[arn]
		must("SetLBSubnets", w.checkLBSubnets(lb.Type, lb.VPC, lb.Subnets, subnets))
		lb.Subnets = slices.Clone(subnets)
	})
}

// SetListenerDefault points the default action of an ELBv2 load balancer's
// listener on port at target group tg ("": a fixed 404), as ModifyListener
// does, unrecorded: another writer, for tests. As in AWS, a target group that
// no listener or rule of the load balancer forwards to any more loses it from
// its LoadBalancerArns.
func (w *World) SetListenerDefault(arn string, port int32, tg string) {
	w.locked(func() {
		lb := w.db.LoadBalancers[arn]
		i := slices.IndexFunc(lb.Listeners, func(l Listener) bool { return l.Port == port })
		if i < 0 {
			panic(fmt.Sprintf("fakeaws: SetListenerDefault: no listener on port %d", port))
		}
		lb.Listeners[i].TargetGroup = tg
		for ref, g := range w.db.TargetGroups {
			routed := slices.ContainsFunc(lb.Listeners, func(l Listener) bool { return l.TargetGroup == ref || slices.Contains(l.Rules, ref) })
			has := slices.Contains(g.LoadBalancers, arn)
			switch {
			case routed && !has:
				g.LoadBalancers = append(g.LoadBalancers, arn)
			case !routed && has:
				g.LoadBalancers = slices.DeleteFunc(g.LoadBalancers, func(a string) bool { return a == arn })
			}
		}
	})
}

// DeleteLoadBalancer deletes an ELBv2 load balancer, as DeleteLoadBalancer
// does, unrecorded: another writer, for tests. Its target groups lose it
// from their LoadBalancerArns.
func (w *World) DeleteLoadBalancer(arn string) {
	w.locked(func() {
		delete(w.db.LoadBalancers, arn)
		for _, g := range w.db.TargetGroups {
			g.LoadBalancers = slices.DeleteFunc(g.LoadBalancers, func(a string) bool { return a == arn })
		}
	})
}

// DeleteRoute deletes the route to dest from a route table, as DeleteRoute
// does, unrecorded: another writer, for tests.
func (w *World) DeleteRoute(rt, dest string) {
	w.locked(func() {
		t := w.db.RouteTables[rt]
		t.Routes = slices.DeleteFunc(t.Routes, func(r Route) bool { return r.Dest == dest })
	})
}

// TagTargetGroup sets a tag of a target group, as AddTags does, unrecorded:
// another writer, for tests.
func (w *World) TagTargetGroup(arn, key, value string) {
	w.locked(func() {
		g := w.db.TargetGroups[arn]
		if g.Tags == nil {
			g.Tags = map[string]string{}
		}
		g.Tags[key] = value
	})
}

// SetLBAddressType sets an ELBv2 load balancer's IP address type (ipv4,
// dualstack), as SetIpAddressType does, unrecorded: another writer, for tests.
func (w *World) SetLBAddressType(arn, typ string) {
	w.locked(func() { w.db.LoadBalancers[arn].IPAddressType = typ })
}

// SetLBGroups replaces an ELBv2 load balancer's security groups, as
// SetSecurityGroups does, unrecorded: another writer, for tests.
func (w *World) SetLBGroups(arn string, groups ...string) {
	w.locked(func() { w.db.LoadBalancers[arn].Groups = slices.Clone(groups) })
}

// Subnet returns a copy of a subnet.
func (w *World) Subnet(id string) Subnet {
	var s Subnet
	w.locked(func() { s = clone(*w.db.Subnets[id]) })
	return s
}

// Subnets returns copies of the subnets of vpc, by ID.
func (w *World) Subnets(vpc string) []Subnet {
	var out []Subnet
	w.locked(func() {
		for _, id := range sortedKeys(w.db.Subnets) {
			if s := w.db.Subnets[id]; s.VPC == vpc {
				out = append(out, clone(*s))
			}
		}
	})
	return out
}

// FreeIPs returns a subnet's available address count.
func (w *World) FreeIPs(subnet string) int {
	var n int
	w.locked(func() { n = w.db.freeIPs(w.db.Subnets[subnet]) })
	return n
}

// RouteTable returns a copy of a route table.
func (w *World) RouteTable(id string) RouteTable {
	var rt RouteTable
	w.locked(func() { rt = clone(*w.db.RouteTables[id]) })
	return rt
}

// RouteTableOf returns the route table governing subnet (explicit, else main).
func (w *World) RouteTableOf(subnet string) string {
	var id string
	w.locked(func() { id = w.db.routeTableOf(subnet).ID })
	return id
}

// RouteTables returns copies of the route tables of vpc, by ID.
func (w *World) RouteTables(vpc string) []RouteTable {
	var out []RouteTable
	w.locked(func() {
		for _, id := range sortedKeys(w.db.RouteTables) {
			if rt := w.db.RouteTables[id]; rt.VPC == vpc {
				out = append(out, clone(*rt))
			}
		}
	})
	return out
}

// NACL returns a copy of a network ACL.
func (w *World) NACL(id string) NACL {
	var a NACL
	w.locked(func() { a = clone(*w.db.NACLs[id]) })
	return a
}

// SecurityGroup returns a copy of a security group.
func (w *World) SecurityGroup(id string) SecurityGroup {
	var g SecurityGroup
	w.locked(func() { g = clone(*w.db.Groups[id]) })
	return g
}

// Instance returns a copy of an instance.
func (w *World) Instance(id string) Instance {
	var i Instance
	w.locked(func() { i = clone(*w.db.Instances[id]) })
	return i
}

// TargetGroup returns a copy of a target group with its targets.
func (w *World) TargetGroup(arn string) TargetGroup {
	var tg TargetGroup
	w.locked(func() { tg = clone(*w.db.TargetGroups[arn]) })
	return tg
}

// LoadBalancer returns a copy of an ELBv2 load balancer.
func (w *World) LoadBalancer(arn string) LoadBalancer {
	var lb LoadBalancer
	w.locked(func() { lb = clone(*w.db.LoadBalancers[arn]) })
	return lb
}

// ClassicLB returns a copy of a Classic ELB.
func (w *World) ClassicLB(name string) ClassicLB {
	var lb ClassicLB
	w.locked(func() { lb = clone(*w.db.Classic[name]) })
	return lb
}

// LBZones maps each AZ of a load balancer (an ELBv2 ARN or a Classic ELB
// name) to its subnet there.
func (w *World) LBZones(lb string) map[string]string {
	var m map[string]string
	w.locked(func() {
		if x := w.db.LoadBalancers[lb]; x != nil {
			m = w.db.zoneOf(x.Subnets)
		} else {
			m = w.db.zoneOf(w.db.Classic[lb].Subnets)
		}
	})
	return m
}
