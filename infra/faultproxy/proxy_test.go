package faultproxy

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

func TestPassThrough(t *testing.T) {
	p := startProxy(t, Rates{})
	cfg := proxyConfig(t, p, 1)
	ctx := t.Context()
	name := randomName("pass")
	vpc, err := createVPC(ctx, ec2.NewFromConfig(cfg), name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{aws.ToString(vpc.Vpc.VpcId)}})
	if err != nil || len(out.Vpcs) != 1 || aws.ToString(out.Vpcs[0].CidrBlock) != "10.20.0.0/16" {
		t.Fatalf("DescribeVpcs = %+v, %v", out, err)
	}
	if _, err := elbv2.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := eventbridge.NewFromConfig(cfg).ListEventBuses(ctx, &eventbridge.ListEventBusesInput{}); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.Requests != 5 || s.Forwarded != 5 || len(s.Faults) != 0 {
		t.Errorf("stats = %+v, want 5 requests all forwarded", s)
	}
	for _, op := range []string{"ec2.CreateVpc", "ec2.DescribeVpcs", "elbv2.DescribeLoadBalancers", "sqs.ListQueues", "events.ListEventBuses"} {
		if s.Operations[op] != 1 {
			t.Errorf("Operations[%s] = %d, want 1 (all: %v)", op, s.Operations[op], s.Operations)
		}
	}
}

func TestThrottleErrorCodes(t *testing.T) {
	p := startProxy(t, Rates{Throttle: 1})
	cfg := proxyConfig(t, p, 1)
	ctx := t.Context()
	calls := []struct {
		code string
		call func() error
	}{
		{"RequestLimitExceeded", func() error {
			_, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
			return err
		}},
		{"Throttling", func() error {
			_, err := elbv2.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
			return err
		}},
		{"Throttling", func() error {
			_, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
			return err
		}},
		{"ThrottlingException", func() error {
			_, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
			return err
		}},
		{"ThrottlingException", func() error {
			_, err := eventbridge.NewFromConfig(cfg).ListEventBuses(ctx, &eventbridge.ListEventBusesInput{})
			return err
		}},
	}
	for _, c := range calls {
		err := c.call()
		apiErr := requireAPIError(t, err)
		if apiErr.ErrorCode() != c.code {
			t.Errorf("code = %q, want %q (%v)", apiErr.ErrorCode(), c.code, err)
		}
		requireStatus(t, err, 400)
		requireRetryable(t, err, true)
	}
	if s := p.Stats(); s.Throttled != len(calls) || s.Forwarded != 0 {
		t.Errorf("stats = %+v, want %d throttled, none forwarded", s, len(calls))
	}
}

// requireStatus checks the HTTP status code carried by err.
func requireStatus(t *testing.T, err error, want ...int) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want an HTTP response error, got %T: %v", err, err)
	}
	for _, w := range want {
		if re.HTTPStatusCode() == w {
			return
		}
	}
	t.Errorf("HTTP status = %d, want one of %v", re.HTTPStatusCode(), want)
}

// TestThrottleThenRecover: every attempt is throttled until the rates are
// lifted; the standard retryer keeps trying and then succeeds.
func TestThrottleThenRecover(t *testing.T) {
	p := startProxy(t, Rates{Throttle: 1})
	client := ec2.NewFromConfig(proxyConfig(t, p, 10))
	done := make(chan error, 1)
	go func() {
		_, err := client.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Throttled < 3 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	p.SetRates(Rates{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.Throttled < 3 || s.Forwarded != 1 || s.Requests != s.Throttled+1 {
		t.Errorf("stats = %+v, want >= 3 throttled attempts then 1 forwarded", s)
	}
}

func TestThrottleHalfRetried(t *testing.T) {
	p := startProxy(t, Rates{Throttle: 0.5})
	cfg := proxyConfig(t, p, 10)
	ec2c, elbc := ec2.NewFromConfig(cfg), elbv2.NewFromConfig(cfg)
	for range 10 {
		if _, err := ec2c.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := elbc.DescribeLoadBalancers(t.Context(), &elbv2.DescribeLoadBalancersInput{}); err != nil {
			t.Fatal(err)
		}
	}
	s := p.Stats()
	if s.Forwarded != 20 || s.Throttled == 0 || s.Requests != 20+s.Throttled {
		t.Errorf("stats = %+v, want 20 forwarded and some throttles", s)
	}
	if s.Faults["ec2.DescribeVpcs"]+s.Faults["elbv2.DescribeLoadBalancers"] != s.Throttled {
		t.Errorf("per-operation faults %v do not add up to %d", s.Faults, s.Throttled)
	}
}

func TestServerError(t *testing.T) {
	p := startProxy(t, Rates{ServerError: 1})
	cfg := proxyConfig(t, p, 1)
	for range 4 { // both 500 and 503 show up with seed 42
		_, err := ec2.NewFromConfig(cfg).DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{})
		if code := requireAPIError(t, err).ErrorCode(); code != "InternalError" && code != "ServiceUnavailable" {
			t.Errorf("ec2 code = %q", code)
		}
		requireStatus(t, err, 500, 503)
		requireRetryable(t, err, false)
		_, err = elbv2.NewFromConfig(cfg).DescribeLoadBalancers(t.Context(), &elbv2.DescribeLoadBalancersInput{})
		if code := requireAPIError(t, err).ErrorCode(); code != "InternalFailure" && code != "ServiceUnavailable" {
			t.Errorf("elbv2 code = %q", code)
		}
		requireStatus(t, err, 500, 503)
		requireRetryable(t, err, false)
	}
	p.SetRates(Rates{ServerError: 0.5})
	client := ec2.NewFromConfig(proxyConfig(t, p, 10))
	before := p.Stats()
	for range 10 {
		if _, err := client.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	s := p.Stats()
	if s.Forwarded != 10 || s.ServerErrors == before.ServerErrors {
		t.Errorf("stats = %+v, want 10 forwarded and more server errors than %d", s, before.ServerErrors)
	}
}

func TestDropBefore(t *testing.T) {
	p := startProxy(t, Rates{Drop: 1, DropMode: DropBefore})
	name := randomName("dropbefore")
	_, err := createVPC(t.Context(), ec2.NewFromConfig(proxyConfig(t, p, 1)), name)
	if err == nil {
		t.Fatal("CreateVpc succeeded through a dropped connection")
	}
	requireRetryable(t, err, false)
	if n := vpcsNamed(t, name); n != 0 {
		t.Errorf("moto has %d VPCs %s, want 0: the request must not reach moto", n, name)
	}
	if s := p.Stats(); s.DroppedBefore != 1 || s.Forwarded != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestDropAfter(t *testing.T) {
	p := startProxy(t, Rates{Drop: 1, DropMode: DropAfter})
	name := randomName("dropafter")
	_, err := createVPC(t.Context(), ec2.NewFromConfig(proxyConfig(t, p, 1)), name)
	if err == nil {
		t.Fatal("CreateVpc succeeded through a dropped connection")
	}
	requireRetryable(t, err, false)
	if n := vpcsNamed(t, name); n != 1 {
		t.Errorf("moto has %d VPCs %s, want 1: moto applied the request", n, name)
	}
	if s := p.Stats(); s.DroppedAfter != 1 || s.Forwarded != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// TestDropEitherRetried: with half the requests dropped, before or after,
// retried CreateVpc calls succeed and leave duplicates in moto for each
// drop after forwarding: the reason the functions must be idempotent.
func TestDropEitherRetried(t *testing.T) {
	p := startProxy(t, Rates{Drop: 0.5})
	client := ec2.NewFromConfig(proxyConfig(t, p, 10))
	name := randomName("dropeither")
	for range 16 {
		if _, err := createVPC(t.Context(), client, name); err != nil {
			t.Fatal(err)
		}
	}
	s := p.Stats()
	if s.DroppedBefore == 0 || s.DroppedAfter == 0 {
		t.Errorf("stats = %+v, want drops of both kinds", s)
	}
	if n := vpcsNamed(t, name); n != 16+s.DroppedAfter {
		t.Errorf("moto has %d VPCs, want 16 + %d dropped after", n, s.DroppedAfter)
	}
}

func TestOnlyAndSkip(t *testing.T) {
	p := startProxy(t, Rates{Throttle: 1, Only: []string{"ec2.Create*", "elbv2"}, Skip: []string{"elbv2.DescribeTargetGroups"}})
	cfg := proxyConfig(t, p, 1)
	ec2c := ec2.NewFromConfig(cfg)
	if _, err := ec2c.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{}); err != nil {
		t.Errorf("DescribeVpcs is not in Only: %v", err)
	}
	if _, err := createVPC(t.Context(), ec2c, randomName("only")); err == nil {
		t.Error("CreateVpc matches ec2.Create*: want a throttle")
	}
	elbc := elbv2.NewFromConfig(cfg)
	if _, err := elbc.DescribeLoadBalancers(t.Context(), &elbv2.DescribeLoadBalancersInput{}); err == nil {
		t.Error("elbv2.DescribeLoadBalancers matches elbv2: want a throttle")
	}
	if _, err := elbc.DescribeTargetGroups(t.Context(), &elbv2.DescribeTargetGroupsInput{}); err != nil {
		t.Errorf("elbv2.DescribeTargetGroups is skipped: %v", err)
	}
}

func TestLatency(t *testing.T) {
	const latency = 60 * time.Millisecond
	p := startProxy(t, Rates{Latency: latency})
	client := ec2.NewFromConfig(proxyConfig(t, p, 1))
	start := time.Now()
	if _, err := client.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("call took %s, want >= %s", d, latency)
	}
}

// TestConcurrent runs calls in parallel while the rates change (run with
// -race), all of which succeed through the retryer.
func TestConcurrent(t *testing.T) {
	p := startProxy(t, Rates{Throttle: 0.2, ServerError: 0.1, Drop: 0.1})
	client := ec2.NewFromConfig(proxyConfig(t, p, 10))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			if i == 8 {
				p.SetRates(Rates{Throttle: 0.3})
			}
			_, err := client.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{
				Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{"vpc-none"}}},
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if s := p.Stats(); s.Operations["ec2.DescribeSubnets"] != s.Requests || s.Forwarded != 16 {
		t.Errorf("stats = %+v", s)
	}
}

// TestSerial: concurrent calls for one block or one rule, through a proxy
// that forwards CheckThenWrite one at a time, end as on AWS: one subnet, one
// rule, every other call InvalidSubnet.Conflict or
// InvalidPermission.Duplicate. (Straight to moto, a round can end with two.)
func TestSerial(t *testing.T) {
	p := startProxy(t, Rates{Serial: CheckThenWrite})
	client := ec2.NewFromConfig(proxyConfig(t, p, 1))
	const n = 24
	concurrently := func(call func() error, code string) int {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() { errs <- call() })
		}
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			var ae smithy.APIError
			switch {
			case err == nil:
				ok++
			case !errors.As(err, &ae) || ae.ErrorCode() != code:
				t.Errorf("%v, want %s", err, code)
			}
		}
		return ok
	}
	for round := range 3 {
		vpc, err := createVPC(t.Context(), client, randomName("serial"))
		if err != nil {
			t.Fatal(err)
		}
		created := concurrently(func() error {
			_, err := client.CreateSubnet(t.Context(), &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.20.0.0/27"), AvailabilityZone: aws.String("us-east-1a")})
			return err
		}, "InvalidSubnet.Conflict")
		sg, err := client.CreateSecurityGroup(t.Context(), &ec2.CreateSecurityGroupInput{VpcId: vpc.Vpc.VpcId, GroupName: aws.String(randomName("sg")), Description: aws.String("serial")})
		if err != nil {
			t.Fatal(err)
		}
		added := concurrently(func() error {
			_, err := client.AuthorizeSecurityGroupIngress(t.Context(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId,
				IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80),
					IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}}})
			return err
		}, "InvalidPermission.Duplicate")
		if created != 1 || added != 1 {
			t.Errorf("round %d: of %d concurrent calls, %d CreateSubnet and %d AuthorizeSecurityGroupIngress succeeded, want 1 each", round, n, created, added)
		}
	}
	if s := p.Stats(); s.Operations["ec2.CreateSubnet"] != 3*n || s.Operations["ec2.AuthorizeSecurityGroupIngress"] != 3*n {
		t.Errorf("stats = %+v", s)
	}
}
