// Package awsclient builds the aws.Config every elbattach client shares: the
// SDK's standard retryer with backoff (throttling, 5xx and dropped connections
// are retried), AWS_ENDPOINT_URL honoured by the SDK itself, and a middleware
// that counts API calls per operation.
package awsclient

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
)

// Retry settings: AWS faults are retried with exponential backoff and jitter.
const (
	MaxAttempts = 6
	MaxBackoff  = 5 * time.Second
)

// Load returns the shared aws.Config, counting calls into counter (may be nil).
func Load(ctx context.Context, counter *Counter, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts = append([]func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = MaxAttempts
				o.MaxBackoff = MaxBackoff
			})
		}),
	}, opts...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("loading AWS configuration, %w", err)
	}
	if counter != nil {
		counter.Install(&cfg)
	}
	return cfg, nil
}

// Counter counts API calls (each attempt, retries included) per
// "service.Operation". It is safe for concurrent use.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

// Install adds the counting middleware to cfg.
func (c *Counter) Install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("elbattachCallCounter",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

func (c *Counter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[op]++
}

// Snapshot returns a copy of the counts.
func (c *Counter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Total returns the number of calls counted.
func (c *Counter) Total() int {
	n := 0
	for _, v := range c.Snapshot() {
		n += v
	}
	return n
}

// Reset sets every count to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = nil
}

// Diff returns after - before, per operation, leaving out zeroes.
func Diff(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for k, v := range after {
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

// Ops returns the operations of counts, sorted.
func Ops(counts map[string]int) []string {
	ops := make([]string, 0, len(counts))
	for k := range counts {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}
