package observe

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/state"
)

// Registered reads every registration of a target group (all ports).
func (o *Observer) Registered(ctx context.Context, tgARN string) ([]state.Registration, error) {
	out, err := o.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		return nil, fmt.Errorf("describing targets of %s, %w", tgARN, err)
	}
	regs := make([]state.Registration, 0, len(out.TargetHealthDescriptions))
	for _, d := range out.TargetHealthDescriptions {
		r := state.Registration{ID: aws.ToString(d.Target.Id), Port: aws.ToInt32(d.Target.Port)}
		if h := d.TargetHealth; h != nil {
			r.State, r.Reason = string(h.State), string(h.Reason)
		}
		regs = append(regs, r)
	}
	return regs, nil
}

// DetachTarget reads a target named by the tag for a detach: the target
// (through the cache of a warm container), its load balancer as far as its
// ARN names it (a Classic ELB: read), and every registration of it.
func (o *Observer) DetachTarget(ctx context.Context, ref state.Ref) (state.Target, state.LoadBalancer, error) {
	if ref.Classic {
		return o.Classic(ctx, ref)
	}
	t, lb, ok := state.Target{}, state.LoadBalancer{}, false
	if o.TTL > 0 {
		t, lb, ok = o.cache.get(ref.Raw, o.TTL)
	}
	if !ok {
		// Deregistering needs the group, its opt-in and the registrations;
		// the load balancer's ARN names it for the report.
		var err error
		if t, lb, err = o.target(ctx, ref, false); err != nil {
			return t, lb, err
		}
	}
	var err error
	t.Registrations, err = o.Registered(ctx, t.ARN)
	return t, lb, err
}

// Managed is a target elbattach manages that the instance is registered in.
type Managed struct {
	Target       state.Target
	LoadBalancer state.LoadBalancer
}

// ManagedTargets sweeps the target groups and Classic ELBs of the instance's
// VPC that elbattach manages (tag elbattach:allow=true, or ALLOWED_TARGETS)
// and returns those the instance is registered in. It serves a detach after
// the target tag was removed, when the tag no longer says where the instance
// was. Target groups are described by pages and tagged in batches of 20.
func (o *Observer) ManagedTargets(ctx context.Context, in state.Instance, cfg config.Config) ([]Managed, error) {
	groups, err := o.ManagedGroups(ctx, in.VPC, cfg)
	if err != nil {
		return nil, err
	}
	var found []Managed
	for _, t := range groups {
		if RegisteredIn(t, in) {
			found = append(found, Managed{Target: t})
		}
	}
	classic, err := o.managedClassic(ctx, in, cfg)
	return append(found, classic...), err
}

// ManagedGroups returns the target groups elbattach manages (of one VPC, or
// of all with vpc ""), each with all its registrations.
func (o *Observer) ManagedGroups(ctx context.Context, vpc string, cfg config.Config) ([]state.Target, error) {
	var out []state.Target
	pages := elbv2.NewDescribeTargetGroupsPaginator(o.ELB, &elbv2.DescribeTargetGroupsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing target groups, %w", err)
		}
		var cands []state.Target
		for _, tg := range page.TargetGroups {
			if vpc != "" && aws.ToString(tg.VpcId) != vpc {
				continue
			}
			cands = append(cands, state.Target{Name: aws.ToString(tg.TargetGroupName), ARN: aws.ToString(tg.TargetGroupArn),
				TargetType: string(tg.TargetType), Port: aws.ToInt32(tg.Port), VPC: aws.ToString(tg.VpcId),
				Ref: state.Ref{Raw: aws.ToString(tg.TargetGroupName), Name: aws.ToString(tg.TargetGroupName)}})
		}
		for start := 0; start < len(cands); start += 20 {
			batch := cands[start:min(start+20, len(cands))]
			if err := o.tagAllowed(ctx, batch); err != nil {
				return nil, err
			}
			for _, t := range batch {
				if !t.AllowTag && !cfg.Allowed(t.Name, t.ARN) {
					continue
				}
				if t.Registrations, err = o.Registered(ctx, t.ARN); err != nil {
					return nil, err
				}
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// TaggedInstances lists the running instances that carry tagKey (pages of up
// to 1000: a cheap read, whatever the reconcile run then takes on).
func (o *Observer) TaggedInstances(ctx context.Context, tagKey string) ([]state.Instance, error) {
	var out []state.Instance
	pages := ec2.NewDescribeInstancesPaginator(o.EC2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag-key"), Values: []string{tagKey}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}},
	}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing tagged instances, %w", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				out = append(out, instanceOf(i))
			}
		}
	}
	return out, nil
}

// InstanceStates reads the state of instances by ID ("" for unknown ones).
func (o *Observer) InstanceStates(ctx context.Context, ids []string) (map[string]string, error) {
	states := map[string]string{}
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		out, err := o.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("instance-id"), Values: batch}}})
		if err != nil {
			return nil, fmt.Errorf("describing instances, %w", err)
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				states[aws.ToString(i.InstanceId)] = string(i.State.Name)
			}
		}
	}
	return states, nil
}

func (o *Observer) tagAllowed(ctx context.Context, batch []state.Target) error {
	arns := make([]string, len(batch))
	for i, t := range batch {
		arns[i] = t.ARN
	}
	out, err := o.ELB.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: arns})
	if err != nil {
		return fmt.Errorf("describing tags of target groups, %w", err)
	}
	for _, d := range out.TagDescriptions {
		for _, tag := range d.Tags {
			if isAllowTag(tag.Key, tag.Value) {
				i := slices.Index(arns, aws.ToString(d.ResourceArn))
				if i >= 0 {
					batch[i].AllowTag = true
				}
			}
		}
	}
	return nil
}

// RegisteredIn reports whether the instance (or, in an ip target group, its
// address) is among t's registrations.
func RegisteredIn(t state.Target, in state.Instance) bool {
	return slices.ContainsFunc(t.Registrations, func(r state.Registration) bool {
		return r.ID == in.ID || (t.TargetType == "ip" && r.ID == in.PrivateIP)
	})
}

// managedClassic finds the Classic ELBs of the VPC the instance is in that
// elbattach manages and the instance is registered with.
func (o *Observer) managedClassic(ctx context.Context, in state.Instance, cfg config.Config) ([]Managed, error) {
	return o.managedClassics(ctx, cfg, func(d elbtypes.LoadBalancerDescription) bool {
		return aws.ToString(d.VPCId) == in.VPC && slices.ContainsFunc(d.Instances, func(i elbtypes.Instance) bool { return aws.ToString(i.InstanceId) == in.ID })
	})
}

// ManagedClassics returns the Classic ELBs elbattach manages that have
// instances registered, each with its registrations (for reconcile).
func (o *Observer) ManagedClassics(ctx context.Context, cfg config.Config) ([]Managed, error) {
	return o.managedClassics(ctx, cfg, func(d elbtypes.LoadBalancerDescription) bool { return len(d.Instances) > 0 })
}

// managedClassics lists the Classic ELBs (by pages), keeps those keep says,
// and returns the ones of them elbattach manages (the opt-in tags of those
// kept and not listed in ALLOWED_TARGETS are read, 20 a call).
func (o *Observer) managedClassics(ctx context.Context, cfg config.Config, keep func(elbtypes.LoadBalancerDescription) bool) ([]Managed, error) {
	if o.CLB == nil {
		return nil, nil
	}
	listed := func(name string) bool { return cfg.Allowed(name, "classic/"+name) }
	var found []Managed
	pages := elb.NewDescribeLoadBalancersPaginator(o.CLB, &elb.DescribeLoadBalancersInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing classic load balancers, %w", err)
		}
		var kept []elbtypes.LoadBalancerDescription
		var unlisted []string
		for _, d := range page.LoadBalancerDescriptions {
			if keep(d) {
				kept = append(kept, d)
				if name := aws.ToString(d.LoadBalancerName); !listed(name) {
					unlisted = append(unlisted, name)
				}
			}
		}
		allowed, err := o.classicAllowTags(ctx, unlisted)
		if err != nil {
			return nil, err
		}
		for _, d := range kept {
			name := aws.ToString(d.LoadBalancerName)
			t, lb := classicOf(state.Ref{Raw: "classic/" + name, Classic: true, Name: name}, d, time.Now())
			t.AllowTag = allowed[name]
			if t.AllowTag || listed(name) {
				found = append(found, Managed{Target: t, LoadBalancer: lb})
			}
		}
	}
	return found, nil
}
