package plan

import (
	"fmt"
	"strings"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// Diagnose walks every hop from a client to the target on the full state and
// says for each whether it passes, and why. It changes nothing; the plan an
// attach would carry out comes with it.
func Diagnose(s state.State, cfg config.Config) ([]Check, Plan) {
	var cs []Check
	add := func(name string, ok bool, format string, args ...any) {
		cs = append(cs, Check{Check: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	in, t, lb := s.Instance, s.Target, s.LoadBalancer
	add("instance running", in.State == "running", "%s is %s in %s (%s)", in.ID, in.State, in.AZ, in.Subnet)
	if cfg.Allowed(t.Name, t.ListedAs()) {
		add("target opted in", true, "%s: in ALLOWED_TARGETS", t.Name)
	} else {
		add("target opted in", t.AllowTag, "%s: tag %s=%v, not in ALLOWED_TARGETS", t.Name, config.AllowTagKey, t.AllowTag)
	}
	add("load balancer", lb.Name != "", "%q (%s)", lb.Name, lb.Type)
	add("internet-facing", lb.Scheme == "internet-facing", "scheme %s", lb.Scheme)
	add("same VPC", lb.VPC == in.VPC, "load balancer in %s, instance in %s", lb.VPC, in.VPC)
	pub := lb.SubnetIn(in.AZ)
	add("public subnet in the instance's AZ", pub != "" && s.Network != nil && s.Network.IsPublic(pub), "load balancer subnet in %s: %q", in.AZ, pub)
	for _, w := range listenerWarnings(s) {
		add("load balancer open to clients", false, "%s", w)
	}
	cs = append(cs, securityChecks(s, cfg)...)
	missing := MissingNACLRules(s, cfg.NLBClientCIDRs, Added{})
	if pub != "" {
		add("network ACLs", len(missing) == 0, "%s", naclDetail(missing))
	}
	regs := make([]string, 0, len(t.Registrations))
	registered := false
	for _, r := range t.Registrations {
		if r.ID == s.TargetID() && r.Reason != "Target.NotRegistered" {
			registered = true
			regs = append(regs, fmt.Sprintf("port %d %s %s", r.Port, r.State, r.Reason))
		}
	}
	add("registered", registered, "%s in %s: %v", s.TargetID(), t.Name, regs)
	if w := natWarning(s); w != "" {
		add("outbound internet (NAT)", false, "%s", w)
	}
	p, err := Build(s, cfg)
	if err != nil {
		add("attach would", false, "refuse: %v", err)
	}
	return cs, p
}

func securityChecks(s state.State, cfg config.Config) []Check {
	var cs []Check
	if len(s.Instance.SecurityGroups) == 0 {
		return []Check{{Check: "instance security group", Detail: "the instance has no security group"}}
	}
	var probe Plan
	if err := planIngress(&probe, s, cfg, Added{}); err != nil {
		return []Check{{Check: "instance security group", Detail: err.Error()}}
	}
	if err := planEgress(&probe, s); err != nil {
		return []Check{{Check: "load balancer egress", Detail: err.Error()}}
	}
	var in, out []string
	for _, st := range probe.Steps {
		if st.Op == AuthorizeIngress {
			in = append(in, strings.TrimPrefix(st.String(), "+ "))
		} else {
			out = append(out, strings.TrimPrefix(st.String(), "+ "))
		}
	}
	cs = append(cs, Check{Check: "instance security group lets the load balancer in", OK: len(in) == 0,
		Detail: detailOr(in, "missing: ", strings.Join(probe.Notes, "; "))})
	cs = append(cs, Check{Check: "load balancer security group lets traffic out", OK: len(out) == 0,
		Detail: detailOr(out, "missing: ", "egress allowed")})
	return cs
}

func naclDetail(missing []NACLRule) string {
	if len(missing) == 0 {
		return "both subnets' ACLs allow the path"
	}
	var l []string
	for _, m := range missing {
		l = append(l, m.String())
	}
	return strings.Join(l, "; ")
}

func detailOr(items []string, prefix, otherwise string) string {
	if len(items) == 0 {
		return otherwise
	}
	return prefix + strings.Join(items, "; ")
}
