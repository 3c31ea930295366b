package bench

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elbattach/elbattach/shared/awsclient"
)

// rootsChild is the environment variable that makes this test binary, run
// by BenchmarkTLSRoots, load the TLS roots one way and print how long it took.
const rootsChild = "ELBATTACH_BENCH_ROOTS"

// TestRootsChild is BenchmarkTLSRoots' child process; run on its own it does
// nothing.
func TestRootsChild(t *testing.T) {
	mode := os.Getenv(rootsChild)
	if mode == "" {
		return
	}
	start := time.Now()
	var pool *x509.CertPool
	var err error
	switch mode {
	case "system":
		pool, err = x509.SystemCertPool()
	case "bundle":
		pool = awsclient.Roots(os.Getenv)
	}
	if pool == nil || err != nil {
		t.Fatalf("%s: no roots (%v)", mode, err)
	}
	fmt.Printf("roots-ns %d\n", time.Since(start).Nanoseconds())
}

// BenchmarkTLSRoots: the time a fresh process takes to load the roots its
// first TLS handshake verifies against — Go's default (x509.SystemCertPool:
// the bundle file, then every file of /etc/ssl/certs and /etc/pki/tls/certs)
// and elbattach's (awsclient.Roots: the bundle file alone) — in a child
// process per run, with Lambda's environment (no SSL_CERT_* or AWS_CA_BUNDLE
// variables). The RIE cold start above talks plain HTTP to moto and never
// loads roots; in Lambda the first AWS call does.
func BenchmarkTLSRoots(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("Roots is for Linux (Lambda)")
	}
	for _, mode := range []string{"system", "bundle"} {
		b.Run(mode, func(b *testing.B) {
			var ds []float64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRootsChild$", "-test.count=1")
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), rootsChild + "=" + mode}
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%s: %v\n%s", mode, err, out)
				}
				_, ns, ok := strings.Cut(string(out), "roots-ns ")
				n, perr := strconv.ParseInt(strings.TrimSpace(strings.SplitN(ns, "\n", 2)[0]), 10, 64)
				if !ok || perr != nil {
					b.Fatalf("%s: %s", mode, out)
				}
				ds = append(ds, float64(n)/1e6)
			}
			r := &Roots{Runs: len(ds), P50: percentile(ds, 0.5), P95: percentile(ds, 0.95)}
			b.ReportMetric(r.P50, "load-p50-ms")
			results.update(func(d *Data) {
				if d.Roots == nil {
					d.Roots = map[string]*Roots{}
				}
				d.Roots[mode] = r
			})
		})
	}
}
