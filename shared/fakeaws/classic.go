package fakeaws

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
)

// ClassicELB is a fake Classic Elastic Load Balancing client. The embedded
// interface, nil, lists calls the fake does not model: they panic.
type ClassicELB struct {
	unmodelledClassic
	w *World
}

type unmodelledClassic interface {
	DetachLoadBalancerFromSubnets(context.Context, *elb.DetachLoadBalancerFromSubnetsInput, ...func(*elb.Options)) (*elb.DetachLoadBalancerFromSubnetsOutput, error)
	ApplySecurityGroupsToLoadBalancer(context.Context, *elb.ApplySecurityGroupsToLoadBalancerInput, ...func(*elb.Options)) (*elb.ApplySecurityGroupsToLoadBalancerOutput, error)
	ConfigureHealthCheck(context.Context, *elb.ConfigureHealthCheckInput, ...func(*elb.Options)) (*elb.ConfigureHealthCheckOutput, error)
	CreateLoadBalancerListeners(context.Context, *elb.CreateLoadBalancerListenersInput, ...func(*elb.Options)) (*elb.CreateLoadBalancerListenersOutput, error)
	AddTags(context.Context, *elb.AddTagsInput, ...func(*elb.Options)) (*elb.AddTagsOutput, error)
}

func (d *db) classic(name string) (*ClassicLB, error) {
	if lb := d.Classic[name]; lb != nil {
		return lb, nil
	}
	return nil, Err("LoadBalancerNotFound", "There is no ACTIVE Load Balancer named '%s'", name)
}

// DescribeLoadBalancers implements the Classic ELB call (LoadBalancerNames;
// LoadBalancerNotFound when one is unknown; pages with PageSize and Marker).
func (c *ClassicELB) DescribeLoadBalancers(ctx context.Context, in *elb.DescribeLoadBalancersInput, _ ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error) {
	return do(ctx, c.w, "elb.DescribeLoadBalancers", in, func(in *elb.DescribeLoadBalancersInput) (*elb.DescribeLoadBalancersOutput, error) {
		d := &c.w.db
		names := in.LoadBalancerNames
		for _, n := range names {
			if _, err := d.classic(n); err != nil {
				return nil, err
			}
		}
		if len(names) == 0 {
			names = sortedKeys(d.Classic)
		}
		var all []elbtypes.LoadBalancerDescription
		for _, n := range names {
			lb := d.Classic[n]
			x := elbtypes.LoadBalancerDescription{LoadBalancerName: aws.String(n), Scheme: aws.String(lb.Scheme), VPCId: aws.String(lb.VPC),
				Subnets: slices.Clone(lb.Subnets), SecurityGroups: slices.Clone(lb.Groups), HealthCheck: &elbtypes.HealthCheck{Target: aws.String(lb.HealthCheck)},
				DNSName: aws.String(n + "-1234567890." + Region + ".elb.amazonaws.com")}
			for _, id := range lb.Subnets {
				x.AvailabilityZones = append(x.AvailabilityZones, d.Subnets[id].AZ)
			}
			for _, l := range lb.Listeners {
				x.ListenerDescriptions = append(x.ListenerDescriptions, elbtypes.ListenerDescription{Listener: &elbtypes.Listener{
					Protocol: aws.String(l.Protocol), LoadBalancerPort: l.Port, InstanceProtocol: aws.String(l.Protocol), InstancePort: aws.Int32(l.InstancePort)}})
			}
			for _, i := range lb.Instances {
				x.Instances = append(x.Instances, elbtypes.Instance{InstanceId: aws.String(i)})
			}
			all = append(all, x)
		}
		items, next, err := elbPage(all, in.Marker, in.PageSize)
		return &elb.DescribeLoadBalancersOutput{LoadBalancerDescriptions: items, NextMarker: next}, err
	})
}

// DescribeTags implements the Classic ELB call (1 to 20 names).
func (c *ClassicELB) DescribeTags(ctx context.Context, in *elb.DescribeTagsInput, _ ...func(*elb.Options)) (*elb.DescribeTagsOutput, error) {
	return do(ctx, c.w, "elb.DescribeTags", in, func(in *elb.DescribeTagsInput) (*elb.DescribeTagsOutput, error) {
		if n := len(in.LoadBalancerNames); n < 1 || n > 20 {
			return nil, Err("ValidationError", "1 validation error detected: Value at 'loadBalancerNames' failed to satisfy constraint: Member must have length less than or equal to 20 and greater than or equal to 1 (got %d)", n)
		}
		out := &elb.DescribeTagsOutput{}
		for _, n := range in.LoadBalancerNames {
			lb, err := c.w.db.classic(n)
			if err != nil {
				return nil, err
			}
			td := elbtypes.TagDescription{LoadBalancerName: aws.String(n)}
			for _, k := range sortedKeys(lb.Tags) {
				td.Tags = append(td.Tags, elbtypes.Tag{Key: aws.String(k), Value: aws.String(lb.Tags[k])})
			}
			out.TagDescriptions = append(out.TagDescriptions, td)
		}
		return out, nil
	})
}

// AttachLoadBalancerToSubnets implements the Classic ELB call: it adds
// subnets (one already attached is kept); InvalidConfigurationRequest for a
// second subnet in an AZ.
func (c *ClassicELB) AttachLoadBalancerToSubnets(ctx context.Context, in *elb.AttachLoadBalancerToSubnetsInput, _ ...func(*elb.Options)) (*elb.AttachLoadBalancerToSubnetsOutput, error) {
	return do(ctx, c.w, "elb.AttachLoadBalancerToSubnets", in, func(in *elb.AttachLoadBalancerToSubnetsInput) (*elb.AttachLoadBalancerToSubnetsOutput, error) {
		lb, err := c.w.db.classic(aws.ToString(in.LoadBalancerName))
		if err != nil {
			return nil, err
		}
		if err := c.w.checkLBSubnets("classic", lb.VPC, lb.Subnets, in.Subnets); err != nil {
			return nil, err
		}
		for _, id := range in.Subnets {
			if !slices.Contains(lb.Subnets, id) {
				lb.Subnets = append(lb.Subnets, id)
			}
		}
		return &elb.AttachLoadBalancerToSubnetsOutput{Subnets: slices.Clone(lb.Subnets)}, nil
	})
}

// RegisterInstancesWithLoadBalancer implements the Classic ELB call:
// InvalidInstance for an instance that does not exist, is terminated or is in
// another VPC.
func (c *ClassicELB) RegisterInstancesWithLoadBalancer(ctx context.Context, in *elb.RegisterInstancesWithLoadBalancerInput, _ ...func(*elb.Options)) (*elb.RegisterInstancesWithLoadBalancerOutput, error) {
	return do(ctx, c.w, "elb.RegisterInstancesWithLoadBalancer", in, func(in *elb.RegisterInstancesWithLoadBalancerInput) (*elb.RegisterInstancesWithLoadBalancerOutput, error) {
		lb, err := c.w.db.classic(aws.ToString(in.LoadBalancerName))
		if err != nil {
			return nil, err
		}
		for _, x := range in.Instances {
			id := aws.ToString(x.InstanceId)
			if i := c.w.db.Instances[id]; i == nil || i.State == "terminated" || i.VPC != lb.VPC {
				return nil, Err("InvalidInstance", "EC2 instance %s is not valid for load balancer %s", id, lb.Name)
			}
		}
		for _, x := range in.Instances {
			if id := aws.ToString(x.InstanceId); !slices.Contains(lb.Instances, id) {
				lb.Instances = append(lb.Instances, id)
				lb.Health[id] = InstanceHealth{State: "OutOfService", Reason: "ELB", Description: "Instance registration is still in progress."}
			}
		}
		return &elb.RegisterInstancesWithLoadBalancerOutput{Instances: classicInstances(lb)}, nil
	})
}

// DeregisterInstancesFromLoadBalancer implements the Classic ELB call:
// InvalidInstance for an unknown instance; one not registered is ignored.
func (c *ClassicELB) DeregisterInstancesFromLoadBalancer(ctx context.Context, in *elb.DeregisterInstancesFromLoadBalancerInput, _ ...func(*elb.Options)) (*elb.DeregisterInstancesFromLoadBalancerOutput, error) {
	return do(ctx, c.w, "elb.DeregisterInstancesFromLoadBalancer", in, func(in *elb.DeregisterInstancesFromLoadBalancerInput) (*elb.DeregisterInstancesFromLoadBalancerOutput, error) {
		lb, err := c.w.db.classic(aws.ToString(in.LoadBalancerName))
		if err != nil {
			return nil, err
		}
		for _, x := range in.Instances {
			if c.w.db.Instances[aws.ToString(x.InstanceId)] == nil {
				return nil, Err("InvalidInstance", "EC2 instance %s is not valid", aws.ToString(x.InstanceId))
			}
		}
		for _, x := range in.Instances {
			lb.Instances = slices.DeleteFunc(lb.Instances, func(id string) bool { return id == aws.ToString(x.InstanceId) })
			delete(lb.Health, aws.ToString(x.InstanceId))
		}
		return &elb.DeregisterInstancesFromLoadBalancerOutput{Instances: classicInstances(lb)}, nil
	})
}

func classicInstances(lb *ClassicLB) []elbtypes.Instance {
	var out []elbtypes.Instance
	for _, id := range lb.Instances {
		out = append(out, elbtypes.Instance{InstanceId: aws.String(id)})
	}
	return out
}

// DescribeInstanceHealth implements the Classic ELB call: InvalidInstance for
// an instance not registered; one in an AZ the load balancer does not cover
// is OutOfService (ELB).
func (c *ClassicELB) DescribeInstanceHealth(ctx context.Context, in *elb.DescribeInstanceHealthInput, _ ...func(*elb.Options)) (*elb.DescribeInstanceHealthOutput, error) {
	return do(ctx, c.w, "elb.DescribeInstanceHealth", in, func(in *elb.DescribeInstanceHealthInput) (*elb.DescribeInstanceHealthOutput, error) {
		d := &c.w.db
		lb, err := d.classic(aws.ToString(in.LoadBalancerName))
		if err != nil {
			return nil, err
		}
		ids := lb.Instances
		if len(in.Instances) > 0 {
			ids = nil
			for _, x := range in.Instances {
				id := aws.ToString(x.InstanceId)
				if !slices.Contains(lb.Instances, id) {
					return nil, Err("InvalidInstance", "Could not find EC2 instance %s registered with load balancer %s", id, lb.Name)
				}
				ids = append(ids, id)
			}
		}
		covered := d.zoneOf(lb.Subnets)
		out := &elb.DescribeInstanceHealthOutput{}
		for _, id := range ids {
			h := lb.Health[id]
			if i := d.Instances[id]; i != nil && covered[i.AZ] == "" {
				h = InstanceHealth{State: "OutOfService", Reason: "ELB", Description: "Instance is in an Availability Zone for which LoadBalancer is not configured to route traffic to."}
			}
			out.InstanceStates = append(out.InstanceStates, elbtypes.InstanceState{InstanceId: aws.String(id), State: aws.String(h.State),
				ReasonCode: aws.String(h.Reason), Description: aws.String(h.Description)})
		}
		return out, nil
	})
}
