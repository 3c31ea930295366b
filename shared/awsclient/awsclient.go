// Package awsclient builds the aws.Config every elbattach client shares: the
// SDK's standard retryer with backoff (throttling, 5xx and dropped connections
// are retried), AWS_ENDPOINT_URL honoured by the SDK itself, TLS roots read
// from the system's CA bundle alone (see Roots), and a middleware that counts
// API calls per operation.
package awsclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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
	defaults := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = MaxAttempts
				o.MaxBackoff = MaxBackoff
			})
		}),
	}
	if hc := trustingBundle(os.Getenv); hc != nil {
		defaults = append(defaults, config.WithHTTPClient(hc))
	}
	opts = append(defaults, opts...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("loading AWS configuration, %w", err)
	}
	if counter != nil {
		counter.Install(&cfg)
	}
	return cfg, nil
}

// trustingBundle returns the SDK's HTTP client trusting Roots, or nil for
// the SDK's default: when Roots is nil, or against a plain-http endpoint
// (the tests' local AWS), where there is nothing to trust.
func trustingBundle(getenv func(string) string) aws.HTTPClient {
	if strings.HasPrefix(getenv("AWS_ENDPOINT_URL"), "http://") {
		return nil
	}
	pool := Roots(getenv)
	if pool == nil {
		return nil
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		t.TLSClientConfig.RootCAs = pool
	})
}

// caBundles are the CA bundle files crypto/x509 looks for on Linux, in its
// order (its certFiles).
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt", // Amazon Linux 2023: provided.al2023
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// Roots returns the certificate authorities the AWS clients trust: those of
// the system's CA bundle file ($SSL_CERT_FILE, else the first of the files Go
// looks for), or nil for Go's default.
//
// Go's default (x509.SystemCertPool) reads that bundle and then every file of
// /etc/ssl/certs and /etc/pki/tls/certs as well. On Amazon Linux 2023 these
// directories hold each root again as a file of its own, so the first TLS
// handshake of every cold start parses each root several times
// (golang/go#79018 measured about 300 ms more on a 128 MB function). OpenSSL,
// curl and the AWS CLI trust the bundle alone; so does elbattach. The
// operator's own choice stands: with SSL_CERT_DIR or AWS_CA_BUNDLE set, or
// off Linux, or without a bundle, Roots returns nil.
func Roots(getenv func(string) string) *x509.CertPool {
	if runtime.GOOS != "linux" || getenv("SSL_CERT_DIR") != "" || getenv("AWS_CA_BUNDLE") != "" {
		return nil
	}
	files := caBundles
	if f := getenv("SSL_CERT_FILE"); f != "" {
		files = []string{f}
	}
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pool := x509.NewCertPool(); pool.AppendCertsFromPEM(pem) {
			return pool
		}
		return nil
	}
	return nil
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
