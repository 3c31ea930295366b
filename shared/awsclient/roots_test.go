package awsclient_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/elbattach/elbattach/shared/awsclient"
)

// bundle writes a PEM file holding one self-signed CA named cn.
func bundle(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, IsCA: true,
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), cn+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRoots: the bundle file alone is trusted; the operator's SSL_CERT_DIR
// or AWS_CA_BUNDLE leave Go's and the SDK's own loading in place, and so
// does a file with no certificate in it.
func TestRoots(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Roots is for Linux (Lambda)")
	}
	file := bundle(t, "elbattach test root")
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	pool := awsclient.Roots(env("SSL_CERT_FILE", file))
	if pool == nil || len(pool.Subjects()) != 1 {
		t.Fatalf("pool from %s: %v", file, pool)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, getenv := range map[string]func(string) string{
		"SSL_CERT_DIR set":    env("SSL_CERT_FILE", file, "SSL_CERT_DIR", "/etc/ssl/certs"),
		"AWS_CA_BUNDLE set":   env("SSL_CERT_FILE", file, "AWS_CA_BUNDLE", file),
		"no such file":        env("SSL_CERT_FILE", filepath.Join(t.TempDir(), "missing.pem")),
		"file without a cert": env("SSL_CERT_FILE", empty),
	} {
		if pool := awsclient.Roots(getenv); pool != nil {
			t.Errorf("%s: got a pool, want nil (Go's default)", name)
		}
	}
}

// TestLoadTrustsTheBundle: the clients' TLS trusts the bundle's roots, except
// against a plain-http endpoint (the local AWS of the tests).
func TestLoadTrustsTheBundle(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Roots is for Linux (Lambda)")
	}
	file := bundle(t, "elbattach test root")
	t.Setenv("SSL_CERT_FILE", file)
	t.Setenv("SSL_CERT_DIR", "")
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_REGION", "us-east-1")
	want := awsclient.Roots(os.Getenv)
	for endpoint, trusts := range map[string]bool{"": true, "https://vpce.example.com": true, "http://127.0.0.1:1": false} {
		t.Setenv("AWS_ENDPOINT_URL", endpoint)
		cfg, err := awsclient.Load(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var roots *x509.CertPool
		if c, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
			roots = c.GetTransport().TLSClientConfig.RootCAs
		}
		if got := roots != nil && roots.Equal(want); got != trusts {
			t.Errorf("endpoint %q: trusts the bundle %v, want %v", endpoint, got, trusts)
		}
	}
}
