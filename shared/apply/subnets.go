package apply

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/plan"
)

// addSubnet adds st.Subnet to the load balancer. SetSubnets replaces the
// whole list, so the list is read afresh right before writing (the plan's may
// be seconds old), and read back after a settle delay to catch a concurrent
// writer that overwrote it; then ErrStale makes the caller go round again.
func (a *Applier) addSubnet(ctx context.Context, st plan.Step, adopted bool) (bool, error) {
	if st.LoadBalancerType == "classic" {
		return a.attachClassic(ctx, st)
	}
	current, err := a.lbSubnets(ctx, st.LoadBalancer)
	if err != nil {
		return false, err
	}
	if adopted {
		// The run that created this subnet is adding it right now: give it
		// the settle time to do so before writing too, so that a burst of
		// runs for one AZ makes one SetSubnets, not one each.
		if current, err = a.awaitAZ(ctx, st, current); err != nil {
			return false, err
		}
	}
	if id, ok := current[st.AZ]; ok {
		if id == st.Subnet {
			return false, nil
		}
		return false, fmt.Errorf("%w: %s got subnet %s in %s meanwhile", ErrStale, st.LoadBalancer, id, st.AZ)
	}
	list := make([]string, 0, len(current)+1)
	for _, id := range current {
		list = append(list, id)
	}
	list = append(list, st.Subnet)
	slices.Sort(list)
	_, err = a.ELB.SetSubnets(ctx, &elbv2.SetSubnetsInput{LoadBalancerArn: aws.String(st.LoadBalancer), Subnets: list})
	if awserr.Is(err, awserr.InvalidConfiguration) {
		return false, fmt.Errorf("%w: %w", ErrStale, err)
	}
	if err != nil {
		return false, fmt.Errorf("setting subnets, %w", err)
	}
	select {
	case <-time.After(a.settle()):
	case <-ctx.Done():
		return true, ctx.Err()
	}
	after, err := a.lbSubnets(ctx, st.LoadBalancer)
	if err != nil {
		return true, err
	}
	if after[st.AZ] != st.Subnet {
		return true, fmt.Errorf("%w: a concurrent SetSubnets on %s dropped %s", ErrStale, st.LoadBalancer, st.Subnet)
	}
	return true, nil
}

// awaitAZ reads the load balancer's subnets a few times within the settle
// delay, until the step's AZ is covered.
func (a *Applier) awaitAZ(ctx context.Context, st plan.Step, current map[string]string) (map[string]string, error) {
	const reads = 4
	for i := 0; i < reads && current[st.AZ] == ""; i++ {
		select {
		case <-time.After(a.settle() / reads):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var err error
		if current, err = a.lbSubnets(ctx, st.LoadBalancer); err != nil {
			return nil, err
		}
	}
	return current, nil
}

func (a *Applier) settle() time.Duration {
	if a.Settle > 0 {
		return a.Settle
	}
	return DefaultSettle
}

// lbSubnets returns the load balancer's subnets by AZ.
func (a *Applier) lbSubnets(ctx context.Context, arn string) (map[string]string, error) {
	out, err := a.ELB.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
	if err != nil {
		return nil, fmt.Errorf("describing load balancer %s, %w", arn, err)
	}
	m := map[string]string{}
	for _, lb := range out.LoadBalancers {
		for _, az := range lb.AvailabilityZones {
			m[aws.ToString(az.ZoneName)] = aws.ToString(az.SubnetId)
		}
	}
	return m, nil
}

// attachClassic adds a subnet to a Classic ELB. AttachLoadBalancerToSubnets
// adds rather than replaces, so there is no lost update to guard against;
// only the AZ must still be free.
func (a *Applier) attachClassic(ctx context.Context, st plan.Step) (bool, error) {
	out, err := a.CLB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerNames: []string{st.LoadBalancer}})
	if err != nil {
		return false, fmt.Errorf("describing classic load balancer %s, %w", st.LoadBalancer, err)
	}
	for _, d := range out.LoadBalancerDescriptions {
		if slices.Contains(d.Subnets, st.Subnet) {
			return false, nil
		}
		if slices.Contains(d.AvailabilityZones, st.AZ) {
			return false, fmt.Errorf("%w: %s got a subnet in %s meanwhile", ErrStale, st.LoadBalancer, st.AZ)
		}
	}
	_, err = a.CLB.AttachLoadBalancerToSubnets(ctx, &elb.AttachLoadBalancerToSubnetsInput{
		LoadBalancerName: aws.String(st.LoadBalancer), Subnets: []string{st.Subnet}})
	if awserr.Is(err, awserr.InvalidConfiguration) {
		return false, fmt.Errorf("%w: %w", ErrStale, err)
	}
	if err != nil {
		return false, fmt.Errorf("attaching subnet, %w", err)
	}
	return true, nil
}
