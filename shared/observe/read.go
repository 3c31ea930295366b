package observe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// Target resolves a target group reference and the load balancer using it.
func (o *Observer) Target(ctx context.Context, ref state.Ref) (state.Target, state.LoadBalancer, error) {
	return o.target(ctx, ref, true)
}

// target reads the target group and its opt-in tag, and with readLB the load
// balancer; without, the load balancer is only what its ARN says (name,
// type).
func (o *Observer) target(ctx context.Context, ref state.Ref, readLB bool) (state.Target, state.LoadBalancer, error) {
	in := &elbv2.DescribeTargetGroupsInput{}
	if ref.ARN != "" {
		in.TargetGroupArns = []string{ref.ARN}
	} else {
		in.Names = []string{ref.Name}
	}
	out, err := o.ELB.DescribeTargetGroups(ctx, in)
	if awserr.Is(err, awserr.TargetGroupNotFound) || (err == nil && len(out.TargetGroups) == 0) {
		return state.Target{}, state.LoadBalancer{}, fmt.Errorf("%w: target group %s", ErrTargetNotFound, ref)
	}
	if err != nil {
		return state.Target{}, state.LoadBalancer{}, fmt.Errorf("describing target group %s, %w", ref, err)
	}
	tg := out.TargetGroups[0]
	t := state.Target{
		Ref: ref, Name: aws.ToString(tg.TargetGroupName), ARN: aws.ToString(tg.TargetGroupArn),
		Protocol: string(tg.Protocol), Port: aws.ToInt32(tg.Port), TargetType: string(tg.TargetType),
		HealthCheckPort: aws.ToString(tg.HealthCheckPort), VPC: aws.ToString(tg.VpcId),
	}
	// The opt-in tag and the load balancer are independent reads: at once.
	var lb state.LoadBalancer
	var tagsErr, lbErr error
	var wg sync.WaitGroup
	if !o.listed(t.Name, t.ARN) {
		wg.Go(func() { t.AllowTag, tagsErr = o.allowTag(ctx, t) })
	}
	if len(tg.LoadBalancerArns) > 0 {
		if readLB {
			wg.Go(func() { lb, lbErr = o.LoadBalancer(ctx, tg.LoadBalancerArns[0]) })
		} else {
			lb = LoadBalancerOfARN(tg.LoadBalancerArns[0])
		}
	}
	wg.Wait()
	if err := errors.Join(tagsErr, lbErr); err != nil {
		return t, state.LoadBalancer{}, err
	}
	return t, lb, nil
}

// LoadBalancerOfARN returns what an ELBv2 load balancer's ARN says of it:
// arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/<app|net|gwy>/<name>/<id>.
func LoadBalancerOfARN(arn string) state.LoadBalancer {
	lb := state.LoadBalancer{ARN: arn}
	_, resource, _ := strings.Cut(arn, ":loadbalancer/")
	parts := strings.Split(resource, "/")
	if len(parts) != 3 {
		return lb
	}
	lb.Name = parts[1]
	switch parts[0] {
	case "app":
		lb.Type = state.TypeApplication
	case "net":
		lb.Type = state.TypeNetwork
	case "gwy":
		lb.Type = "gateway"
	}
	return lb
}

// allowTag reads whether a target group carries the opt-in tag.
func (o *Observer) allowTag(ctx context.Context, t state.Target) (bool, error) {
	tags, err := o.ELB.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{t.ARN}})
	if err != nil {
		return false, fmt.Errorf("describing tags of %s, %w", t.Name, err)
	}
	for _, d := range tags.TagDescriptions {
		for _, tag := range d.Tags {
			if isAllowTag(tag.Key, tag.Value) {
				return true, nil
			}
		}
	}
	return false, nil
}

// LoadBalancer reads an ALB or NLB.
func (o *Observer) LoadBalancer(ctx context.Context, arn string) (state.LoadBalancer, error) {
	at := time.Now()
	out, err := o.ELB.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
	if awserr.Is(err, awserr.LoadBalancerNotFound) || (err == nil && len(out.LoadBalancers) == 0) {
		return state.LoadBalancer{}, fmt.Errorf("%w: load balancer %s", ErrTargetNotFound, arn)
	}
	if err != nil {
		return state.LoadBalancer{}, fmt.Errorf("describing load balancer %s, %w", arn, err)
	}
	lb := loadBalancerOf(out.LoadBalancers[0])
	lb.ReadAt = at
	return lb, nil
}

func loadBalancerOf(l elbv2types.LoadBalancer) state.LoadBalancer {
	lb := state.LoadBalancer{
		ARN: aws.ToString(l.LoadBalancerArn), Name: aws.ToString(l.LoadBalancerName), Type: string(l.Type),
		Scheme: string(l.Scheme), VPC: aws.ToString(l.VpcId), SecurityGroups: l.SecurityGroups,
		IPAddressType: string(l.IpAddressType),
	}
	for _, az := range l.AvailabilityZones {
		lb.Subnets = append(lb.Subnets, state.LBSubnet{ID: aws.ToString(az.SubnetId), AZ: aws.ToString(az.ZoneName)})
		for _, a := range az.LoadBalancerAddresses {
			lb.ElasticIPs = lb.ElasticIPs || aws.ToString(a.AllocationId) != ""
		}
	}
	return lb
}

// Registrations reads the target's health in a target group on one port.
func (o *Observer) Registrations(ctx context.Context, tgARN, id string, port int32) ([]state.Registration, error) {
	out, err := o.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(tgARN),
		Targets:        []elbv2types.TargetDescription{{Id: aws.String(id), Port: aws.Int32(port)}},
	})
	if awserr.Is(err, awserr.InvalidTarget) {
		return nil, nil // not registered (and maybe not registrable: RegisterTargets will say why)
	}
	if err != nil {
		return nil, fmt.Errorf("describing target health in %s, %w", tgARN, err)
	}
	var regs []state.Registration
	for _, d := range out.TargetHealthDescriptions {
		r := state.Registration{ID: aws.ToString(d.Target.Id), Port: aws.ToInt32(d.Target.Port)}
		if h := d.TargetHealth; h != nil {
			r.State, r.Reason, r.Description = string(h.State), string(h.Reason), aws.ToString(h.Description)
		}
		regs = append(regs, r)
	}
	return regs, nil
}

// PreserveClientIP reads a target group's preserve_client_ip.enabled ("" when
// the target group does not have the attribute).
func (o *Observer) PreserveClientIP(ctx context.Context, tgARN string) (string, error) {
	out, err := o.ELB.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		return "", fmt.Errorf("describing attributes of %s, %w", tgARN, err)
	}
	for _, a := range out.Attributes {
		if aws.ToString(a.Key) == "preserve_client_ip.enabled" {
			return aws.ToString(a.Value), nil
		}
	}
	return "", nil
}

// Listeners reads the ports of an ELBv2 load balancer's listeners, and
// whether any listener forwards to the target group: by its default action,
// else (read only then) by one of its rules.
func (o *Observer) Listeners(ctx context.Context, lbARN, tgARN string) ([]int32, bool, error) {
	var listeners []elbv2types.Listener
	pages := elbv2.NewDescribeListenersPaginator(o.ELB, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("describing listeners of %s, %w", lbARN, err)
		}
		listeners = append(listeners, page.Listeners...)
	}
	var ports []int32
	forwards := false
	for _, l := range listeners {
		ports = appendPort(ports, aws.ToInt32(l.Port))
		forwards = forwards || actionsForward(l.DefaultActions, tgARN)
	}
	for _, l := range listeners {
		if forwards || tgARN == "" {
			break
		}
		rules := elbv2.NewDescribeRulesPaginator(o.ELB, &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn})
		for rules.HasMorePages() && !forwards {
			page, err := rules.NextPage(ctx)
			if err != nil {
				return nil, false, fmt.Errorf("describing rules of %s, %w", aws.ToString(l.ListenerArn), err)
			}
			for _, r := range page.Rules {
				forwards = forwards || actionsForward(r.Actions, tgARN)
			}
		}
	}
	return ports, forwards, nil
}

func actionsForward(actions []elbv2types.Action, tgARN string) bool {
	for _, a := range actions {
		if aws.ToString(a.TargetGroupArn) == tgARN {
			return true
		}
		if a.ForwardConfig != nil {
			for _, tg := range a.ForwardConfig.TargetGroups {
				if aws.ToString(tg.TargetGroupArn) == tgARN {
					return true
				}
			}
		}
	}
	return false
}

// SecurityGroups reads groups with their inbound rules.
func (o *Observer) SecurityGroups(ctx context.Context, ids []string) ([]state.SecurityGroup, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := o.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: slices.Compact(slices.Sorted(slices.Values(ids)))})
	if err != nil {
		return nil, fmt.Errorf("describing security groups %v, %w", ids, err)
	}
	groups := make([]state.SecurityGroup, 0, len(out.SecurityGroups))
	for _, g := range out.SecurityGroups {
		sg := state.SecurityGroup{ID: aws.ToString(g.GroupId), VPC: aws.ToString(g.VpcId)}
		for _, p := range g.IpPermissions {
			sg.Ingress = append(sg.Ingress, permissionsOf(p)...)
		}
		for _, p := range g.IpPermissionsEgress {
			sg.Egress = append(sg.Egress, permissionsOf(p)...)
		}
		groups = append(groups, sg)
	}
	return groups, nil
}

func permissionsOf(p ec2types.IpPermission) []state.Permission {
	base := state.Permission{Protocol: aws.ToString(p.IpProtocol), FromPort: aws.ToInt32(p.FromPort), ToPort: aws.ToInt32(p.ToPort)}
	var out []state.Permission
	for _, pair := range p.UserIdGroupPairs {
		q := base
		q.SourceGroup, q.Description = aws.ToString(pair.GroupId), aws.ToString(pair.Description)
		out = append(out, q)
	}
	for _, r := range p.IpRanges {
		q := base
		q.CIDR, _ = netip.ParsePrefix(aws.ToString(r.CidrIp))
		q.Description = aws.ToString(r.Description)
		out = append(out, q)
	}
	for range p.Ipv6Ranges { // for the quota: elbattach adds no IPv6 rules
		q := base
		q.IPv6 = true
		out = append(out, q)
	}
	for _, pl := range p.PrefixListIds {
		q := base
		q.PrefixList = aws.ToString(pl.PrefixListId)
		out = append(out, q)
	}
	return out
}

func instanceOf(i ec2types.Instance) state.Instance {
	in := state.Instance{
		ID: aws.ToString(i.InstanceId), VPC: aws.ToString(i.VpcId), Subnet: aws.ToString(i.SubnetId),
		PrivateIP: aws.ToString(i.PrivateIpAddress), Tags: tagsOf(i.Tags),
	}
	if i.State != nil {
		in.State = string(i.State.Name)
	}
	if i.Placement != nil {
		in.AZ = aws.ToString(i.Placement.AvailabilityZone)
	}
	for _, g := range i.SecurityGroups {
		in.SecurityGroups = append(in.SecurityGroups, aws.ToString(g.GroupId))
	}
	return in
}

func tagsOf(tags []ec2types.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// isAllowTag reports whether a tag is the opt-in elbattach:allow=true (the
// value in any case).
func isAllowTag(key, value *string) bool {
	return aws.ToString(key) == config.AllowTagKey && strings.EqualFold(aws.ToString(value), "true")
}
