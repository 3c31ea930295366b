package observe

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"

	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/state"
)

// ClassicELB is the part of the Classic Elastic Load Balancing API observe reads.
type ClassicELB interface {
	DescribeLoadBalancers(context.Context, *elb.DescribeLoadBalancersInput, ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTags(context.Context, *elb.DescribeTagsInput, ...func(*elb.Options)) (*elb.DescribeTagsOutput, error)
	DescribeInstanceHealth(context.Context, *elb.DescribeInstanceHealthInput, ...func(*elb.Options)) (*elb.DescribeInstanceHealthOutput, error)
}

var _ ClassicELB = (*elb.Client)(nil)

// Classic reads a Classic Load Balancer as a target: its listeners' instance
// ports are the traffic ports, its registered instances the registrations.
// Its subnets' AZs are filled in from the VPC's network by the caller.
func (o *Observer) Classic(ctx context.Context, ref state.Ref) (state.Target, state.LoadBalancer, error) {
	at := time.Now()
	out, err := o.CLB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerNames: []string{ref.Name}})
	if awserr.Is(err, awserr.LoadBalancerNotFound, "LoadBalancerNotFound") || (err == nil && len(out.LoadBalancerDescriptions) == 0) {
		return state.Target{}, state.LoadBalancer{}, fmt.Errorf("%w: classic load balancer %s", ErrTargetNotFound, ref.Name)
	}
	if err != nil {
		return state.Target{}, state.LoadBalancer{}, fmt.Errorf("describing classic load balancer %s, %w", ref.Name, err)
	}
	t, lb := classicOf(ref, out.LoadBalancerDescriptions[0], at)
	if !o.listed(t.Name, t.ListedAs()) {
		allowed, err := o.classicAllowTags(ctx, []string{t.Name})
		if err != nil {
			return t, state.LoadBalancer{}, err
		}
		t.AllowTag = allowed[t.Name]
	}
	return t, lb, nil
}

// classicAllowTags reads which of the named Classic ELBs carry the opt-in
// tag, 20 names a call (the API's most).
func (o *Observer) classicAllowTags(ctx context.Context, names []string) (map[string]bool, error) {
	allowed := map[string]bool{}
	for start := 0; start < len(names); start += 20 {
		batch := names[start:min(start+20, len(names))]
		tags, err := o.CLB.DescribeTags(ctx, &elb.DescribeTagsInput{LoadBalancerNames: batch})
		if err != nil {
			return nil, fmt.Errorf("describing tags of %s, %w", strings.Join(batch, ", "), err)
		}
		for _, td := range tags.TagDescriptions {
			for _, tag := range td.Tags {
				if isAllowTag(tag.Key, tag.Value) {
					allowed[aws.ToString(td.LoadBalancerName)] = true
				}
			}
		}
	}
	return allowed, nil
}

// classicOf makes the target and load balancer of a Classic ELB's
// description (its opt-in tag not read).
func classicOf(ref state.Ref, d elbtypes.LoadBalancerDescription, at time.Time) (state.Target, state.LoadBalancer) {
	t := state.Target{Ref: ref, Name: aws.ToString(d.LoadBalancerName), TargetType: "instance", VPC: aws.ToString(d.VPCId), ListenersRead: true}
	for _, l := range d.ListenerDescriptions {
		if l.Listener == nil {
			continue
		}
		t.InstancePorts = appendPort(t.InstancePorts, aws.ToInt32(l.Listener.InstancePort))
		t.ListenerPorts = appendPort(t.ListenerPorts, l.Listener.LoadBalancerPort)
	}
	if len(t.InstancePorts) > 0 {
		t.Port = t.InstancePorts[0]
	}
	if d.HealthCheck != nil {
		t.HealthCheckPort = healthCheckPort(aws.ToString(d.HealthCheck.Target))
	}
	for _, i := range d.Instances {
		t.Registrations = append(t.Registrations, state.Registration{ID: aws.ToString(i.InstanceId), State: "registered"})
	}
	lb := state.LoadBalancer{Name: t.Name, Type: state.TypeClassic, Scheme: aws.ToString(d.Scheme),
		VPC: aws.ToString(d.VPCId), SecurityGroups: d.SecurityGroups, ReadAt: at}
	for _, id := range d.Subnets {
		lb.Subnets = append(lb.Subnets, state.LBSubnet{ID: id})
	}
	return t, lb
}

// healthCheckPort reads the port of a Classic ELB health check target such as
// "HTTP:8080/health" or "TCP:80".
func healthCheckPort(target string) string {
	_, rest, ok := strings.Cut(target, ":")
	if !ok {
		return ""
	}
	port, _, _ := strings.Cut(rest, "/")
	if _, err := strconv.Atoi(port); err != nil {
		return ""
	}
	return port
}

func appendPort(ports []int32, p int32) []int32 {
	for _, q := range ports {
		if q == p {
			return ports
		}
	}
	return append(ports, p)
}

// fillAZs sets the AZ of each load balancer subnet from the network.
func fillAZs(lb *state.LoadBalancer, n *state.Network) {
	for i, ls := range lb.Subnets {
		if sub, ok := n.Subnet(ls.ID); ok {
			lb.Subnets[i].AZ = sub.AZ
		}
	}
}

// ClassicHealth reads an instance's state on a Classic ELB: InService or
// OutOfService, with the reason AWS gives.
func (o *Observer) ClassicHealth(ctx context.Context, name, id string) (state.Registration, error) {
	out, err := o.CLB.DescribeInstanceHealth(ctx, &elb.DescribeInstanceHealthInput{LoadBalancerName: aws.String(name),
		Instances: []elbtypes.Instance{{InstanceId: aws.String(id)}}})
	if err != nil {
		return state.Registration{}, fmt.Errorf("describing instance health on %s, %w", name, err)
	}
	for _, h := range out.InstanceStates {
		return state.Registration{ID: id, State: aws.ToString(h.State), Reason: aws.ToString(h.ReasonCode), Description: aws.ToString(h.Description)}, nil
	}
	return state.Registration{ID: id}, nil
}
