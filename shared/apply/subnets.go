package apply

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbattach/elbattach/shared/awsclient"
	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/plan"
)

// addSubnet adds st.Subnet to the load balancer. SetSubnets replaces the
// whole list, so two runs adding different AZs at once can lose an update:
// the later write, built from a list read before the earlier write, drops
// the earlier AZ. Every run keeps its own read-to-write gap under half the
// settle delay (it writes the plan's list only while that is fresh, else
// reads the list again; a failed write is retried from a new read, never by
// the SDK with the old list), and reads the list back a settle delay after
// its write: an update lost to a concurrent run then shows, and ErrStale
// makes the caller go round again. When the run met other runs creating
// subnets (contended), it reads the list again however fresh the plan's is:
// in a burst that keeps the writes few.
func (a *Applier) addSubnet(ctx context.Context, st plan.Step, adopted, contended bool) (bool, error) {
	if st.LoadBalancerType == "classic" {
		return a.attachClassic(ctx, st)
	}
	list := slices.Sorted(slices.Values(st.Subnets))
	reread := adopted || contended || len(list) == 0 || time.Since(st.ListRead) >= a.trustList()
	for attempt := 1; ; attempt++ {
		if reread {
			current, err := a.lbSubnets(ctx, st.LoadBalancer)
			if err != nil {
				return false, err
			}
			if adopted {
				// The run that created this subnet is adding it right now:
				// give it the settle time to do so before writing too, so
				// that a burst of runs for one AZ makes one SetSubnets.
				if current, err = a.awaitAZ(ctx, st, current); err != nil {
					return false, err
				}
				adopted = false
			}
			if id, ok := current[st.AZ]; ok && id == st.Subnet && attempt == 1 {
				return false, nil // added by another run
			} else if ok && id == st.Subnet {
				break // an earlier attempt of ours landed after all
			} else if ok {
				return false, fmt.Errorf("%w: %s got subnet %s in %s meanwhile", ErrStale, st.LoadBalancer, id, st.AZ)
			}
			list = append(slices.Collect(maps.Values(current)), st.Subnet)
			slices.Sort(list)
		}
		_, err := a.ELB.SetSubnets(ctx, &elbv2.SetSubnetsInput{LoadBalancerArn: aws.String(st.LoadBalancer), Subnets: list}, noRetry)
		if err == nil {
			break
		}
		if awserr.Is(err, awserr.InvalidConfiguration) {
			return false, fmt.Errorf("%w: %w", ErrStale, err)
		}
		if !retryable(err) || attempt == writeAttempts {
			return false, fmt.Errorf("setting subnets, %w", err)
		}
		delay, _ := writeBackoff.BackoffDelay(attempt, err)
		if a.Backoff > 0 {
			delay = a.Backoff
		}
		if err := sleep(ctx, delay); err != nil {
			return false, err
		}
		reread = true
	}
	if err := sleep(ctx, a.settle()); err != nil {
		return true, err
	}
	after, err := a.lbSubnets(ctx, st.LoadBalancer)
	if err != nil {
		return true, err
	}
	if after[st.AZ] != st.Subnet {
		// The write was undone: not a change this round made.
		return false, fmt.Errorf("%w: a concurrent SetSubnets on %s dropped %s", ErrStale, st.LoadBalancer, st.Subnet)
	}
	return true, nil
}

// A SetSubnets that fails for a transient reason is tried again from a fresh
// read of the list, as often and with the same backoff as the SDK would.
var (
	writeAttempts = awsclient.MaxAttempts
	writeBackoff  = retry.NewExponentialJitterBackoff(awsclient.MaxBackoff)
	retryables    = retry.IsErrorRetryables(append([]retry.IsErrorRetryable{}, retry.DefaultRetryables...))
)

func retryable(err error) bool { return retryables.IsErrorRetryable(err) == aws.TrueTernary }

// noRetry makes one call one attempt: the caller retries it its own way.
func noRetry(o *elbv2.Options) { o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) }

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// awaitAZ reads the load balancer's subnets a few times within the settle
// delay, until the step's AZ is covered.
func (a *Applier) awaitAZ(ctx context.Context, st plan.Step, current map[string]string) (map[string]string, error) {
	const reads = 4
	for i := 0; i < reads && current[st.AZ] == ""; i++ {
		if err := sleep(ctx, a.settle()/reads); err != nil {
			return nil, err
		}
		var err error
		if current, err = a.lbSubnets(ctx, st.LoadBalancer); err != nil {
			return nil, err
		}
	}
	return current, nil
}

func (a *Applier) trustList() time.Duration {
	if a.TrustList > 0 {
		return a.TrustList
	}
	return a.settle() / 2
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
// only the AZ must still be free, which the plan saw (AWS refuses a second
// subnet in an AZ) unless its read is no longer fresh: then it is read again.
func (a *Applier) attachClassic(ctx context.Context, st plan.Step) (bool, error) {
	if time.Since(st.ListRead) >= a.trustList() {
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
	}
	_, err := a.CLB.AttachLoadBalancerToSubnets(ctx, &elb.AttachLoadBalancerToSubnetsInput{
		LoadBalancerName: aws.String(st.LoadBalancer), Subnets: []string{st.Subnet}})
	if awserr.Is(err, awserr.InvalidConfiguration) {
		return false, fmt.Errorf("%w: %w", ErrStale, err)
	}
	if err != nil {
		return false, fmt.Errorf("attaching subnet, %w", err)
	}
	return true, nil
}
