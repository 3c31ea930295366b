package plan

import (
	"fmt"
	"slices"

	"github.com/elbattach/elbattach/shared/state"
)

// planIngress opens the instance to the load balancer on the traffic port and
// the health-check port. A port is already open when any of the instance's
// groups lets TCP to it in from any of the load balancer's groups; else a rule
// is added to the instance's first group, from the load balancer's first
// group, with a description that marks it as elbattach's.
func planIngress(p *Plan, s state.State, traffic int32) error {
	lb := s.LoadBalancer
	if len(lb.SecurityGroups) == 0 {
		return fmt.Errorf("%w: load balancer %s has no security group", ErrUnsupported, lb.Name)
	}
	if len(s.Instance.SecurityGroups) == 0 {
		return fmt.Errorf("%w: instance %s", ErrNoGroups, s.Instance.ID)
	}
	ports := []int32{traffic}
	if hc := HealthCheckPort(s, traffic); hc != traffic {
		ports = append(ports, hc)
	}
	group := s.Instance.SecurityGroups[0]
	var adds []Step
	for _, port := range ports {
		if by := allowedBy(s.InstanceGroups, lb.SecurityGroups, port); by != "" {
			p.note("tcp/%d already allowed into the instance by %s", port, by)
			continue
		}
		adds = append(adds, Step{Op: AuthorizeIngress, Group: group, SourceGroup: lb.SecurityGroups[0],
			Protocol: "tcp", Port: port, Description: RuleDescription})
	}
	if len(adds) == 0 {
		return nil
	}
	if n := ruleCount(s.InstanceGroups, group); n+len(adds) > MaxRulesPerGroup {
		return fmt.Errorf("%w: %s has %d inbound rules, adding %d exceeds the quota of %d", ErrRuleLimit, group, n, len(adds), MaxRulesPerGroup)
	}
	for _, a := range adds {
		p.add(a)
	}
	return nil
}

// allowedBy returns the group whose rule lets TCP to port in from one of
// sources, or "".
func allowedBy(groups []state.SecurityGroup, sources []string, port int32) string {
	for _, g := range groups {
		for _, perm := range g.Ingress {
			if perm.SourceGroup != "" && slices.Contains(sources, perm.SourceGroup) && perm.AllowsTCP(port) {
				return g.ID
			}
		}
	}
	return ""
}

func ruleCount(groups []state.SecurityGroup, id string) int {
	for _, g := range groups {
		if g.ID == id {
			return g.RuleCount
		}
	}
	return 0
}
