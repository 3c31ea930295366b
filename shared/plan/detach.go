package plan

import (
	"fmt"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// KeptNote is what every detach says about what it leaves in place.
const KeptNote = "public subnets and security group rules stay in place: other instances may need them"

// BuildDetach returns the steps that take the instance out of target t: one
// deregistration per port it is registered on (AWS ignores a deregistration
// without the registered port). A target elbattach is not allowed to manage
// is left alone, with a warning.
func BuildDetach(in state.Instance, t state.Target, lb state.LoadBalancer, cfg config.Config) Plan {
	p := Plan{Instance: in.ID, Target: t.Ref.Raw, LoadBalancer: lb.Name}
	if p.Target == "" {
		p.Target = t.Name
	}
	if !t.AllowTag && !cfg.Allowed(t.Name, t.ListedAs()) {
		p.warn("%s is not managed by elbattach (no tag %s=true, not in ALLOWED_TARGETS): left alone", t.Name, config.AllowTagKey)
		return p
	}
	ids := map[string]bool{in.ID: true}
	if t.TargetType == "ip" {
		if in.PrivateIP == "" {
			// A terminated instance has no address left to match; its
			// shutting-down run deregistered it, unless that run failed
			// (and went to the dead-letter queue): a note, not a warning,
			// as every termination comes this way.
			p.note("%s has no private IP any more (%s): its registration in IP target group %s cannot be looked up; the run for its shutting-down state deregistered it, unless that run failed",
				in.ID, in.State, p.Target)
			p.Notes = append(p.Notes, KeptNote)
			return p
		}
		ids = map[string]bool{in.PrivateIP: true}
	}
	for _, r := range t.Registrations {
		if !ids[r.ID] || r.State == "draining" || r.Reason == "Target.NotRegistered" {
			continue
		}
		st := Step{Op: Deregister, TargetGroup: t.ARN, TargetID: r.ID, Port: r.Port}
		if lb.IsClassic() {
			st = Step{Op: Deregister, LoadBalancer: lb.Name, LoadBalancerType: state.TypeClassic, TargetID: r.ID}
		}
		p.add(st)
	}
	if len(p.Steps) == 0 {
		p.note("%s is not registered in %s", in.ID, p.Target)
	}
	p.Notes = append(p.Notes, KeptNote)
	return p
}

// Check is one hop of the path from a client to the target, as diagnose
// reports it.
type Check struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func (c Check) String() string {
	mark := "FAIL"
	if c.OK {
		mark = "ok"
	}
	return fmt.Sprintf("[%s] %s: %s", mark, c.Check, c.Detail)
}
