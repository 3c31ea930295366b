package plan

import (
	"fmt"
	"strconv"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// AWS rules elbattach enforces itself (moto does not).
const (
	// MinFreeIPs is the free address count a load balancer subnet needs.
	MinFreeIPs = 8
	// MaxLBSubnetBits is the smallest subnet (/27) a load balancer accepts.
	MaxLBSubnetBits = 27
	// MaxSubnetsPerVPC is the default quota of subnets per VPC.
	MaxSubnetsPerVPC = 200
	// MaxRulesPerGroup is the default quota of inbound rules per security group.
	MaxRulesPerGroup = 60
	// RuleDescription marks the inbound rules elbattach adds.
	RuleDescription = "elbattach: from load balancer"
	// EgressDescription marks the outbound rules elbattach adds.
	EgressDescription = "elbattach: to targets"
)

// Build returns the steps that attach s.Instance to s.Target, or a refusal
// (see errors.go) when the request must not be carried out. The steps come in
// the order they must run:
//
//  1. a public subnet in the instance's AZ on the load balancer (subnets.go);
//  2. ingress on the instance's security group from the load balancer, and
//     egress on the load balancer's group when it restricts egress (security.go);
//  3. with the full state: network ACL entries (FIX_NACLS) and warnings about
//     what elbattach leaves to the operator (checks.go);
//  4. the registration itself.
func Build(s state.State, cfg config.Config) (Plan, error) {
	p := Plan{Instance: s.Instance.ID, Target: s.Target.Ref.Raw, LoadBalancer: s.LoadBalancer.Name}
	var added Added
	err := check(s, cfg)
	if err == nil {
		added, err = planSubnet(&p, s, cfg)
	}
	if err == nil {
		err = planIngress(&p, s, cfg, added)
	}
	if err == nil {
		err = planEgress(&p, s)
	}
	if err == nil && s.Full {
		err = planChecks(&p, s, cfg, added)
	}
	if err == nil {
		err = planRegister(&p, s)
	}
	if err != nil {
		p.Steps = nil // a refusal changes nothing, not even the steps before it
	}
	return p, err
}

// check refuses requests that must not be carried out.
func check(s state.State, cfg config.Config) error {
	in, t, lb := s.Instance, s.Target, s.LoadBalancer
	if !t.AllowTag && !cfg.Allowed(t.Name, t.ListedAs()) {
		return fmt.Errorf("%w: %s has no tag %s=true and is not in ALLOWED_TARGETS", ErrNotAllowed, t.Name, config.AllowTagKey)
	}
	if in.State != "running" {
		return fmt.Errorf("%w: %s is %s", ErrNotRunning, in.ID, in.State)
	}
	if t.TargetType != "" && t.TargetType != "instance" && t.TargetType != "ip" {
		return fmt.Errorf("%w: target group %s has target type %s (elbattach registers instances and IPs)", ErrUnsupported, t.Name, t.TargetType)
	}
	if lb.Name == "" {
		return fmt.Errorf("%w: %s is not used by any load balancer", ErrNoLoadBalancer, t.Name)
	}
	if lb.Scheme != "internet-facing" {
		return fmt.Errorf("%w: %s is %s", ErrInternal, lb.Name, lb.Scheme)
	}
	if lb.VPC != in.VPC {
		return fmt.Errorf("%w: %s is in %s, instance %s in %s", ErrOtherVPC, lb.Name, lb.VPC, in.ID, in.VPC)
	}
	if t.VPC != "" && t.VPC != in.VPC {
		return fmt.Errorf("%w: target group %s is in %s, instance %s in %s", ErrOtherVPC, t.Name, t.VPC, in.ID, in.VPC)
	}
	return nil
}

// HealthCheckPort is the port health checks use: "traffic-port" (or unset)
// means the (first) traffic port.
func HealthCheckPort(s state.State) int32 {
	if n, err := strconv.Atoi(s.Target.HealthCheckPort); err == nil && n > 0 {
		return int32(n)
	}
	return s.TrafficPorts()[0]
}

// planRegister registers the instance unless it already is (on the traffic
// port; a Classic ELB registers instances without a port).
func planRegister(p *Plan, s state.State) error {
	id, port, classic := s.TargetID(), s.TrafficPort(), s.LoadBalancer.IsClassic()
	if classic {
		port = 0
	}
	for _, r := range s.Target.Registrations {
		if r.ID != id || r.Port != port {
			continue
		}
		switch {
		case r.State == "draining":
			return fmt.Errorf("%w: %s on port %d in %s is still draining from an earlier deregistration; retry after the deregistration delay", ErrDraining, id, port, s.Target.Name)
		case r.State == "" || r.Reason == "Target.NotRegistered":
			continue
		}
		p.note("%s already registered in %s (%s)", id, s.Target.Name, r.State)
		return nil
	}
	st := Step{Op: Register, TargetGroup: s.Target.ARN, TargetID: id, Port: port}
	if classic {
		st.TargetGroup, st.LoadBalancer, st.LoadBalancerType = "", s.LoadBalancer.Name, state.TypeClassic
	}
	p.add(st)
	return nil
}
