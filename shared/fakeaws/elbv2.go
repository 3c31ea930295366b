package fakeaws

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// ELBv2 is a fake Elastic Load Balancing v2 client. The embedded interface,
// nil, lists calls the fake does not model: they panic.
type ELBv2 struct {
	unmodelledELBv2
	w *World
}

type unmodelledELBv2 interface {
	AddTags(context.Context, *elbv2.AddTagsInput, ...func(*elbv2.Options)) (*elbv2.AddTagsOutput, error)
	SetSecurityGroups(context.Context, *elbv2.SetSecurityGroupsInput, ...func(*elbv2.Options)) (*elbv2.SetSecurityGroupsOutput, error)
	ModifyTargetGroup(context.Context, *elbv2.ModifyTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.ModifyTargetGroupOutput, error)
	CreateRule(context.Context, *elbv2.CreateRuleInput, ...func(*elbv2.Options)) (*elbv2.CreateRuleOutput, error)
	ModifyListener(context.Context, *elbv2.ModifyListenerInput, ...func(*elbv2.Options)) (*elbv2.ModifyListenerOutput, error)
}

// elbPage pages as ELB does: PageSize 1..400, Marker.
func elbPage[T any](items []T, marker *string, size *int32) ([]T, *string, error) {
	if size != nil && (*size < 1 || *size > 400) {
		return nil, nil, Err("ValidationError", "1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and 400", *size)
	}
	out, next, err := page(items, aws.ToString(marker), int(aws.ToInt32(size)))
	return out, optional(next), err
}

// DescribeTargetGroups implements the ELBv2 call: Names, TargetGroupArns or
// LoadBalancerArn; TargetGroupNotFound when one is unknown; pages.
func (c *ELBv2) DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error) {
	return do(ctx, c.w, "elbv2.DescribeTargetGroups", in, func(in *elbv2.DescribeTargetGroupsInput) (*elbv2.DescribeTargetGroupsOutput, error) {
		d := &c.w.db
		if len(in.Names) > 0 && len(in.TargetGroupArns) > 0 {
			return nil, Err("ValidationError", "Target group names and target group ARNs cannot be specified at the same time")
		}
		lb := aws.ToString(in.LoadBalancerArn)
		if lb != "" && d.LoadBalancers[lb] == nil {
			return nil, Err("LoadBalancerNotFound", "One or more load balancers not found")
		}
		var all []elbv2types.TargetGroup
		for _, arn := range sortedKeys(d.TargetGroups) {
			tg := d.TargetGroups[arn]
			if (len(in.Names) > 0 && !slices.Contains(in.Names, tg.Name)) || (len(in.TargetGroupArns) > 0 && !slices.Contains(in.TargetGroupArns, arn)) ||
				(lb != "" && !slices.Contains(tg.LoadBalancers, lb)) {
				continue
			}
			all = append(all, elbv2types.TargetGroup{TargetGroupArn: aws.String(arn), TargetGroupName: aws.String(tg.Name),
				Protocol: elbv2types.ProtocolEnum(tg.Protocol), Port: aws.Int32(tg.Port), VpcId: aws.String(tg.VPC),
				TargetType: elbv2types.TargetTypeEnum(tg.TargetType), HealthCheckPort: aws.String(tg.HealthCheckPort),
				LoadBalancerArns: slices.Clone(tg.LoadBalancers)})
		}
		if len(all) < len(in.Names)+len(in.TargetGroupArns) {
			return nil, Err("TargetGroupNotFound", "One or more target groups not found")
		}
		items, next, err := elbPage(all, in.Marker, in.PageSize)
		return &elbv2.DescribeTargetGroupsOutput{TargetGroups: items, NextMarker: next}, err
	})
}

// DescribeLoadBalancers implements the ELBv2 call: LoadBalancerArns or Names;
// LoadBalancerNotFound when one is unknown; pages.
func (c *ELBv2) DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error) {
	return do(ctx, c.w, "elbv2.DescribeLoadBalancers", in, func(in *elbv2.DescribeLoadBalancersInput) (*elbv2.DescribeLoadBalancersOutput, error) {
		d := &c.w.db
		var all []elbv2types.LoadBalancer
		for _, arn := range sortedKeys(d.LoadBalancers) {
			lb := d.LoadBalancers[arn]
			if (len(in.Names) > 0 && !slices.Contains(in.Names, lb.Name)) || (len(in.LoadBalancerArns) > 0 && !slices.Contains(in.LoadBalancerArns, arn)) {
				continue
			}
			all = append(all, elbv2types.LoadBalancer{LoadBalancerArn: aws.String(arn), LoadBalancerName: aws.String(lb.Name),
				Type: elbv2types.LoadBalancerTypeEnum(lb.Type), Scheme: elbv2types.LoadBalancerSchemeEnum(lb.Scheme), VpcId: aws.String(lb.VPC),
				SecurityGroups: slices.Clone(lb.Groups), AvailabilityZones: d.zones(lb.Subnets),
				IpAddressType: elbv2types.IpAddressType(cmp.Or(lb.IPAddressType, "ipv4")),
				State:         &elbv2types.LoadBalancerState{Code: elbv2types.LoadBalancerStateEnumActive},
				DNSName:       aws.String(lb.Name + "-1234567890." + Region + ".elb.amazonaws.com")})
		}
		if len(all) < len(in.Names)+len(in.LoadBalancerArns) {
			return nil, Err("LoadBalancerNotFound", "One or more load balancers not found")
		}
		items, next, err := elbPage(all, in.Marker, in.PageSize)
		return &elbv2.DescribeLoadBalancersOutput{LoadBalancers: items, NextMarker: next}, err
	})
}

func (d *db) zones(subnets []string) []elbv2types.AvailabilityZone {
	var out []elbv2types.AvailabilityZone
	for _, id := range subnets {
		out = append(out, elbv2types.AvailabilityZone{ZoneName: aws.String(d.Subnets[id].AZ), SubnetId: aws.String(id)})
	}
	return out
}

// DescribeTags implements the ELBv2 call for target groups and load
// balancers: 1 to 20 ARNs (ValidationError beyond), each known.
func (c *ELBv2) DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error) {
	return do(ctx, c.w, "elbv2.DescribeTags", in, func(in *elbv2.DescribeTagsInput) (*elbv2.DescribeTagsOutput, error) {
		d := &c.w.db
		if n := len(in.ResourceArns); n < 1 || n > 20 {
			return nil, Err("ValidationError", "1 validation error detected: Value at 'resourceArns' failed to satisfy constraint: Member must have length less than or equal to 20 and greater than or equal to 1 (got %d)", n)
		}
		out := &elbv2.DescribeTagsOutput{}
		for _, arn := range in.ResourceArns {
			var tags map[string]string
			switch {
			case d.TargetGroups[arn] != nil:
				tags = d.TargetGroups[arn].Tags
			case d.LoadBalancers[arn] != nil:
				tags = d.LoadBalancers[arn].Tags
			case strings.Contains(arn, ":targetgroup/"):
				return nil, Err("TargetGroupNotFound", "Target groups '%s' not found", arn)
			default:
				return nil, Err("LoadBalancerNotFound", "Load balancers '%s' not found", arn)
			}
			td := elbv2types.TagDescription{ResourceArn: aws.String(arn)}
			for _, k := range sortedKeys(tags) {
				td.Tags = append(td.Tags, elbv2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
			}
			out.TagDescriptions = append(out.TagDescriptions, td)
		}
		return out, nil
	})
}

// DescribeTargetGroupAttributes implements the ELBv2 call: the
// deregistration delay and preserve_client_ip.enabled (WithPreserveClientIP,
// else AWS's default for the target type and protocol).
func (c *ELBv2) DescribeTargetGroupAttributes(ctx context.Context, in *elbv2.DescribeTargetGroupAttributesInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error) {
	return do(ctx, c.w, "elbv2.DescribeTargetGroupAttributes", in, func(in *elbv2.DescribeTargetGroupAttributesInput) (*elbv2.DescribeTargetGroupAttributesOutput, error) {
		tg := c.w.db.TargetGroups[aws.ToString(in.TargetGroupArn)]
		if tg == nil {
			return nil, Err("TargetGroupNotFound", "Target groups '%s' not found", aws.ToString(in.TargetGroupArn))
		}
		preserve := tg.PreserveClientIP
		if preserve == "" { // AWS's defaults
			preserve = strconv.FormatBool(tg.TargetType == "instance" || tg.Protocol == "UDP" || tg.Protocol == "TCP_UDP")
		}
		return &elbv2.DescribeTargetGroupAttributesOutput{Attributes: []elbv2types.TargetGroupAttribute{
			{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("300")},
			{Key: aws.String("preserve_client_ip.enabled"), Value: aws.String(preserve)},
		}}, nil
	})
}

// DescribeTargetHealth implements the ELBv2 call. With Targets, an
// unregistered one is reported unused / Target.NotRegistered, and an unknown
// instance is InvalidTarget; a registered target in an AZ its load balancer
// does not cover is unused / Target.NotInUse.
func (c *ELBv2) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	return do(ctx, c.w, "elbv2.DescribeTargetHealth", in, func(in *elbv2.DescribeTargetHealthInput) (*elbv2.DescribeTargetHealthOutput, error) {
		d := &c.w.db
		tg := d.TargetGroups[aws.ToString(in.TargetGroupArn)]
		if tg == nil {
			return nil, Err("TargetGroupNotFound", "Target groups '%s' not found", aws.ToString(in.TargetGroupArn))
		}
		desc := func(t Target) elbv2types.TargetHealthDescription {
			st, reason, text := d.health(tg, t)
			h := &elbv2types.TargetHealth{State: elbv2types.TargetHealthStateEnum(st), Reason: elbv2types.TargetHealthReasonEnum(reason), Description: optional(text)}
			return elbv2types.TargetHealthDescription{Target: &elbv2types.TargetDescription{Id: aws.String(t.ID), Port: aws.Int32(t.Port)},
				TargetHealth: h, HealthCheckPort: aws.String(healthPort(tg, t))}
		}
		out := &elbv2.DescribeTargetHealthOutput{}
		if len(in.Targets) == 0 {
			for _, t := range tg.Targets {
				out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, desc(t))
			}
			return out, nil
		}
		for _, want := range in.Targets {
			id := aws.ToString(want.Id)
			if err := d.validTarget(tg, id); err != nil {
				return nil, err
			}
			found := false
			for _, t := range tg.Targets {
				if t.ID == id && (want.Port == nil || t.Port == *want.Port) {
					out.TargetHealthDescriptions, found = append(out.TargetHealthDescriptions, desc(t)), true
				}
			}
			if !found {
				port := tg.Port
				if want.Port != nil {
					port = *want.Port
				}
				out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbv2types.TargetHealthDescription{
					Target: &elbv2types.TargetDescription{Id: aws.String(id), Port: aws.Int32(port)},
					TargetHealth: &elbv2types.TargetHealth{State: elbv2types.TargetHealthStateEnumUnused, Reason: elbv2types.TargetHealthReasonEnumNotRegistered,
						Description: aws.String("Target is not registered to the target group")}})
			}
		}
		return out, nil
	})
}

func healthPort(tg *TargetGroup, t Target) string {
	if tg.HealthCheckPort == "" || tg.HealthCheckPort == "traffic-port" {
		return strconv.Itoa(int(t.Port))
	}
	return tg.HealthCheckPort
}

// validTarget checks that id can be named in tg: an existing instance for an
// instance target group, an IPv4 address for an ip one.
func (d *db) validTarget(tg *TargetGroup, id string) error {
	if tg.TargetType == "ip" {
		if a, err := netip.ParseAddr(id); err != nil || !a.Is4() {
			return Err("ValidationError", "The IP address '%s' is not a valid IPv4 address", id)
		}
		return nil
	}
	if d.Instances[id] == nil {
		return Err("InvalidTarget", "The following targets are not valid instances: '%s'", id)
	}
	return nil
}

// DescribeListeners implements the ELBv2 call (LoadBalancerArn).
func (c *ELBv2) DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error) {
	return do(ctx, c.w, "elbv2.DescribeListeners", in, func(in *elbv2.DescribeListenersInput) (*elbv2.DescribeListenersOutput, error) {
		lb := c.w.db.LoadBalancers[aws.ToString(in.LoadBalancerArn)]
		if lb == nil {
			return nil, Err("LoadBalancerNotFound", "One or more load balancers not found")
		}
		var all []elbv2types.Listener
		for _, l := range lb.Listeners {
			all = append(all, elbv2types.Listener{ListenerArn: aws.String(l.ARN), LoadBalancerArn: aws.String(lb.ARN), Port: aws.Int32(l.Port),
				Protocol: elbv2types.ProtocolEnum(l.Protocol), DefaultActions: []elbv2types.Action{action(l.TargetGroup)}})
		}
		items, next, err := elbPage(all, in.Marker, in.PageSize)
		return &elbv2.DescribeListenersOutput{Listeners: items, NextMarker: next}, err
	})
}

// action forwards to tg, or answers 404 when tg is "".
func action(tg string) elbv2types.Action {
	if tg == "" {
		return elbv2types.Action{Type: elbv2types.ActionTypeEnumFixedResponse, Order: aws.Int32(1),
			FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain")}}
	}
	return elbv2types.Action{Type: elbv2types.ActionTypeEnumForward, Order: aws.Int32(1), TargetGroupArn: aws.String(tg),
		ForwardConfig: &elbv2types.ForwardActionConfig{TargetGroups: []elbv2types.TargetGroupTuple{{TargetGroupArn: aws.String(tg), Weight: aws.Int32(1)}}}}
}

// DescribeRules implements the ELBv2 call (ListenerArn): the listener's
// rules by priority, then its default rule.
func (c *ELBv2) DescribeRules(ctx context.Context, in *elbv2.DescribeRulesInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error) {
	return do(ctx, c.w, "elbv2.DescribeRules", in, func(in *elbv2.DescribeRulesInput) (*elbv2.DescribeRulesOutput, error) {
		arn := aws.ToString(in.ListenerArn)
		prefix := strings.Replace(arn, ":listener/", ":listener-rule/", 1) + "/"
		for _, lb := range c.w.db.LoadBalancers {
			for _, l := range lb.Listeners {
				if l.ARN != arn {
					continue
				}
				var all []elbv2types.Rule
				for i, tg := range l.Rules {
					n := strconv.Itoa(i + 1)
					all = append(all, elbv2types.Rule{RuleArn: aws.String(prefix + n), Priority: aws.String(n), IsDefault: aws.Bool(false),
						Actions: []elbv2types.Action{action(tg)}, Conditions: []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/" + n + "/*"}}}})
				}
				all = append(all, elbv2types.Rule{RuleArn: aws.String(prefix + "default"), Priority: aws.String("default"), IsDefault: aws.Bool(true),
					Actions: []elbv2types.Action{action(l.TargetGroup)}})
				items, next, err := elbPage(all, in.Marker, in.PageSize)
				return &elbv2.DescribeRulesOutput{Rules: items, NextMarker: next}, err
			}
		}
		return nil, Err("ListenerNotFound", "One or more listeners not found")
	})
}

// SetSubnets implements the ELBv2 call: it replaces the load balancer's
// subnets. InvalidConfigurationRequest for two subnets in one AZ, a subnet of
// another VPC, or an ALB in fewer than two AZs; InvalidSubnet for a new subnet
// with fewer than 8 free addresses; SubnetNotFound for an unknown one.
func (c *ELBv2) SetSubnets(ctx context.Context, in *elbv2.SetSubnetsInput, _ ...func(*elbv2.Options)) (*elbv2.SetSubnetsOutput, error) {
	return do(ctx, c.w, "elbv2.SetSubnets", in, func(in *elbv2.SetSubnetsInput) (*elbv2.SetSubnetsOutput, error) {
		lb := c.w.db.LoadBalancers[aws.ToString(in.LoadBalancerArn)]
		if lb == nil {
			return nil, Err("LoadBalancerNotFound", "One or more load balancers not found")
		}
		if err := c.w.checkLBSubnets(lb.Type, lb.VPC, lb.Subnets, in.Subnets); err != nil {
			return nil, err
		}
		lb.Subnets = slices.Clone(in.Subnets)
		return &elbv2.SetSubnetsOutput{AvailabilityZones: c.w.db.zones(lb.Subnets)}, nil
	})
}

// checkLBSubnets validates the subnets a load balancer of type typ in vpc
// is to have (classic: added to those it has).
func (w *World) checkLBSubnets(typ, vpc string, current, subnets []string) error {
	d := &w.db
	if len(subnets) == 0 {
		return Err("ValidationError", "1 validation error detected: Value null at 'subnets' failed to satisfy constraint: Member must not be null")
	}
	azs := map[string]bool{}
	if typ == "classic" {
		for az := range d.zoneOf(current) {
			azs[az] = true
		}
	}
	for _, id := range subnets {
		s := d.Subnets[id]
		if s == nil {
			return Err("SubnetNotFound", "The subnet ID '%s' is not valid", id)
		}
		if s.VPC != vpc {
			return Err("InvalidConfigurationRequest", "Subnet %s is in %s, not in the load balancer's VPC %s", id, s.VPC, vpc)
		}
		if typ == "classic" && slices.Contains(current, id) {
			continue
		}
		if azs[s.AZ] {
			return Err("InvalidConfigurationRequest", "A load balancer cannot be attached to multiple subnets in the same Availability Zone")
		}
		azs[s.AZ] = true
		if !slices.Contains(current, id) && d.freeIPs(s) < MinLBSubnetFreeIPs {
			return Err("InvalidSubnet", "Not enough IP space available in %s. ELB requires at least 8 free IP addresses in each subnet.", id)
		}
	}
	if typ == "application" && len(azs) < 2 {
		return Err("InvalidConfigurationRequest", "At least two subnets in two different Availability Zones must be specified")
	}
	return nil
}

// RegisterTargets implements the ELBv2 call: InvalidTarget for an instance
// that does not exist, is not running or is in another VPC. Registering a
// registered target is a no-op; a new one starts initial.
func (c *ELBv2) RegisterTargets(ctx context.Context, in *elbv2.RegisterTargetsInput, _ ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error) {
	return do(ctx, c.w, "elbv2.RegisterTargets", in, func(in *elbv2.RegisterTargetsInput) (*elbv2.RegisterTargetsOutput, error) {
		return &elbv2.RegisterTargetsOutput{}, c.w.register(aws.ToString(in.TargetGroupArn), in.Targets, "initial", "Elb.RegistrationInProgress")
	})
}

func (w *World) register(arn string, targets []elbv2types.TargetDescription, state, reason string) error {
	d := &w.db
	tg := d.TargetGroups[arn]
	if tg == nil {
		return Err("TargetGroupNotFound", "Target groups '%s' not found", arn)
	}
	for _, t := range targets {
		id := aws.ToString(t.Id)
		if err := d.validTarget(tg, id); err != nil {
			return err
		}
		if i := d.Instances[id]; i != nil && i.State != "running" {
			return Err("InvalidTarget", "The following targets are not in a running state and cannot be registered: '%s'", id)
		}
		if i := d.Instances[id]; i != nil && i.VPC != tg.VPC {
			return Err("InvalidTarget", "The following targets are not in the target group VPC '%s': '%s'", tg.VPC, id)
		}
	}
	for _, t := range targets {
		x := Target{ID: aws.ToString(t.Id), Port: tg.Port, State: state, Reason: reason}
		if t.Port != nil {
			x.Port = *t.Port
		}
		if !slices.ContainsFunc(tg.Targets, func(y Target) bool { return y.ID == x.ID && y.Port == x.Port }) {
			tg.Targets = append(tg.Targets, x)
		}
	}
	return nil
}

// DeregisterTargets implements the ELBv2 call: a target not registered on
// that port is ignored (as AWS does); it leaves at once (no deregistration
// delay).
func (c *ELBv2) DeregisterTargets(ctx context.Context, in *elbv2.DeregisterTargetsInput, _ ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error) {
	return do(ctx, c.w, "elbv2.DeregisterTargets", in, func(in *elbv2.DeregisterTargetsInput) (*elbv2.DeregisterTargetsOutput, error) {
		d := &c.w.db
		tg := d.TargetGroups[aws.ToString(in.TargetGroupArn)]
		if tg == nil {
			return nil, Err("TargetGroupNotFound", "Target groups '%s' not found", aws.ToString(in.TargetGroupArn))
		}
		for _, t := range in.Targets {
			if err := d.validTarget(tg, aws.ToString(t.Id)); err != nil {
				return nil, err
			}
		}
		for _, t := range in.Targets {
			port := tg.Port
			if t.Port != nil {
				port = *t.Port
			}
			tg.Targets = slices.DeleteFunc(tg.Targets, func(y Target) bool { return y.ID == aws.ToString(t.Id) && y.Port == port })
		}
		return &elbv2.DeregisterTargetsOutput{}, nil
	})
}
