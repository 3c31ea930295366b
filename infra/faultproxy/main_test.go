package faultproxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/elbattach/elbattach/infra/localaws"
)

// testMoto is the moto_server shared by the package's tests.
var testMoto *localaws.Moto

// TestMain starts one moto_server for all tests.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	moto, err := localaws.StartMoto(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer moto.Stop()
	testMoto = moto
	return m.Run()
}

// startProxy starts a proxy in front of the shared moto, closed with the test.
func startProxy(t *testing.T, rates Rates) *Proxy {
	t.Helper()
	p, err := Start(testMoto.Endpoint, rates, 42)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// proxyConfig is the shared moto's configuration pointed at the proxy, with
// the SDK's standard retryer making at most maxAttempts attempts. The
// backoff is capped at 5 ms to keep the tests fast; which errors are
// retried is the standard retryer's own decision.
func proxyConfig(t *testing.T, p *Proxy, maxAttempts int) aws.Config {
	t.Helper()
	cfg := testMoto.Config(t.Context())
	cfg.BaseEndpoint = aws.String(p.URL)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = 5 * time.Millisecond
		})
	}
	return cfg
}

// motoEC2 is an EC2 client talking to moto directly, past the proxy.
func motoEC2(t *testing.T) *ec2.Client {
	t.Helper()
	return ec2.NewFromConfig(testMoto.Config(t.Context()))
}

// randomName returns prefix-<8 random hex digits>.
func randomName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// createVPC creates a VPC tagged Name=name through client.
func createVPC(ctx context.Context, client *ec2.Client, name string) (*ec2.CreateVpcOutput, error) {
	return client.CreateVpc(ctx, &ec2.CreateVpcInput{
		CidrBlock: aws.String("10.20.0.0/16"),
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeVpc,
			Tags:         []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}},
		}},
	})
}

// vpcsNamed counts moto's VPCs tagged Name=name, asking moto directly.
func vpcsNamed(t *testing.T, name string) int {
	t.Helper()
	out, err := motoEC2(t).DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{name}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Vpcs)
}

// apiError returns the smithy.APIError in err, failing the test without one.
func requireAPIError(t *testing.T, err error) smithy.APIError {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want a smithy.APIError, got %T: %v", err, err)
	}
	return apiErr
}

// requireRetryable checks that the SDK's standard retryer retries err, and
// that it counts it as a throttle when throttle is set.
func requireRetryable(t *testing.T, err error, throttle bool) {
	t.Helper()
	if !retry.NewStandard().IsErrorRetryable(err) {
		t.Errorf("the standard retryer would not retry %v", err)
	}
	got := retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
	if got != throttle {
		t.Errorf("throttle = %v, want %v for %v", got, throttle, err)
	}
}
