// Package plan decides, from a State read by package observe, the ordered
// steps that attach an instance to its target. It is pure: no AWS calls, no
// clock, no randomness. The Plan it returns is plain data: printed, it is the
// dry-run output; applied by package apply, it changes AWS.
package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/elbattach/elbattach/shared/state"
)

// Op is the kind of a step.
type Op string

// Operations.
const (
	CreateRouteTable    Op = "create-route-table"
	RouteToIGW          Op = "route-to-internet-gateway"
	CreateSubnet        Op = "create-subnet"
	AssociateRouteTable Op = "associate-route-table"
	AddSubnet           Op = "add-subnet-to-load-balancer"
	AuthorizeIngress    Op = "authorize-ingress"
	AuthorizeEgress     Op = "authorize-egress"
	AddNACLEntry        Op = "add-nacl-entry"
	Register            Op = "register-target"
	Deregister          Op = "deregister-target"
)

// Placeholders for IDs known only once an earlier step of the same plan ran.
const (
	NewSubnet     = "<new-subnet>"
	NewSubnetCIDR = "<new-subnet-cidr>"
	NewRouteTable = "<new-route-table>"
)

// Symbol returns the diff-like mark of an operation: + creates, ~ changes, - removes.
func (o Op) Symbol() string {
	switch o {
	case AddSubnet:
		return "~"
	case Deregister:
		return "-"
	}
	return "+"
}

// Step is one change. Only the fields its Op needs are set.
type Step struct {
	Op Op `json:"op"`

	VPC      string   `json:"vpc,omitempty"`
	AZ       string   `json:"az,omitempty"`
	CIDR     string   `json:"cidr,omitempty"`
	VPCCIDRs []string `json:"vpc-cidrs,omitempty"` // create-subnet: where a next free block may come from
	// Seen are the subnets of the AZ the plan saw and did not choose
	// (create-subnet: after a conflict, only a subnet made since is adopted).
	Seen       []string          `json:"-"`
	Subnet     string            `json:"subnet,omitempty"`
	RouteTable string            `json:"route-table,omitempty"`
	IGW        string            `json:"igw,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`

	// LoadBalancer is an ARN (ALB, NLB) or a name (Classic ELB).
	LoadBalancer     string   `json:"load-balancer,omitempty"`
	LoadBalancerType string   `json:"load-balancer-type,omitempty"`
	Subnets          []string `json:"subnets,omitempty"` // the full list SetSubnets sends
	// ListRead is when the load balancer's subnets in Subnets were read.
	ListRead time.Time `json:"-"`

	Group       string `json:"group,omitempty"`
	SourceGroup string `json:"source-group,omitempty"`
	DestGroup   string `json:"dest-group,omitempty"`
	SourceCIDR  string `json:"source-cidr,omitempty"`
	Protocol    string `json:"protocol,omitempty"`
	Description string `json:"description,omitempty"`

	NACL       string `json:"nacl,omitempty"`
	RuleNumber int32  `json:"rule-number,omitempty"`
	Egress     bool   `json:"egress,omitempty"`
	FromPort   int32  `json:"from-port,omitempty"`
	ToPort     int32  `json:"to-port,omitempty"`

	TargetGroup string `json:"target-group,omitempty"`
	TargetID    string `json:"target-id,omitempty"`
	Port        int32  `json:"port,omitempty"`
}

// String prints the step as one diff-like line.
func (s Step) String() string {
	var b strings.Builder
	b.WriteString(s.Op.Symbol())
	b.WriteByte(' ')
	switch s.Op {
	case CreateRouteTable:
		fmt.Fprintf(&b, "create route table in %s with 0.0.0.0/0 -> %s", s.VPC, s.IGW)
	case RouteToIGW:
		fmt.Fprintf(&b, "route 0.0.0.0/0 -> %s in elbattach's route table %s", s.IGW, s.RouteTable)
	case CreateSubnet:
		fmt.Fprintf(&b, "create subnet %s in %s of %s (Name=%s)", s.CIDR, s.AZ, s.VPC, s.Tags["Name"])
	case AssociateRouteTable:
		fmt.Fprintf(&b, "associate subnet %s with public route table %s", s.Subnet, s.RouteTable)
	case AddSubnet:
		fmt.Fprintf(&b, "add subnet %s (%s) to %s load balancer %s", s.Subnet, s.AZ, s.LoadBalancerType, s.LoadBalancer)
	case AuthorizeIngress:
		src := s.SourceGroup
		if src == "" {
			src = s.SourceCIDR
		}
		fmt.Fprintf(&b, "allow %s/%d into %s from %s", s.Protocol, s.Port, s.Group, src)
	case AuthorizeEgress:
		fmt.Fprintf(&b, "allow %s/%d out of %s to %s", s.Protocol, s.Port, s.Group, s.DestGroup)
	case AddNACLEntry:
		dir := "inbound from"
		if s.Egress {
			dir = "outbound to"
		}
		proto := "tcp"
		if s.Protocol == "17" {
			proto = "udp"
		}
		fmt.Fprintf(&b, "add network ACL %s rule %d: allow %s/%d-%d %s %s", s.NACL, s.RuleNumber, proto, s.FromPort, s.ToPort, dir, s.SourceCIDR)
	case Register:
		if s.LoadBalancerType == "classic" {
			fmt.Fprintf(&b, "register %s with classic load balancer %s", s.TargetID, s.LoadBalancer)
		} else {
			fmt.Fprintf(&b, "register %s on port %d in %s", s.TargetID, s.Port, s.TargetGroup)
		}
	case Deregister:
		if s.LoadBalancerType == "classic" {
			fmt.Fprintf(&b, "deregister %s from classic load balancer %s", s.TargetID, s.LoadBalancer)
		} else {
			fmt.Fprintf(&b, "deregister %s from port %d of %s", s.TargetID, s.Port, s.TargetGroup)
		}
	default:
		fmt.Fprintf(&b, "%s", s.Op)
	}
	return b.String()
}

// Plan is the ordered list of steps for one instance and one target.
type Plan struct {
	Instance     string `json:"instance"`
	Target       string `json:"target"`
	LoadBalancer string `json:"load-balancer,omitempty"`
	Steps        []Step `json:"steps"`
	// Notes say what was already in place, so a no-op plan explains itself.
	Notes    []string `json:"notes,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Wants is what the plan was built without and needs: the pipeline
	// reads it (observe.Fill) and builds the plan again.
	Wants state.Wants `json:"-"`
}

// Lines returns the steps printed one per line.
func (p Plan) Lines() []string {
	out := make([]string, 0, len(p.Steps))
	for _, s := range p.Steps {
		out = append(out, s.String())
	}
	return out
}

// String prints the plan like a diff, with notes and warnings after it.
func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan for %s -> %s\n", p.Instance, p.Target)
	if len(p.Steps) == 0 {
		b.WriteString("  (no changes)\n")
	}
	for _, l := range p.Lines() {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  = %s\n", n)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "  ! %s\n", w)
	}
	return b.String()
}

func (p *Plan) add(s Step) { p.Steps = append(p.Steps, s) }
func (p *Plan) note(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}
func (p *Plan) warn(format string, args ...any) {
	p.Warnings = append(p.Warnings, fmt.Sprintf(format, args...))
}
