// Package localaws is the local-AWS harness shared by elbattach's end-to-end
// tests and demo: it runs moto_server and the Lambda Runtime Interface
// Emulator as child processes, builds VPC / load balancer / instance
// fixtures in moto, and routes events through EventBridge rules loaded from
// the SAM template into SQS queues.
package localaws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region every harness client and child process uses.
const Region = "us-east-1"

// Moto is a running moto_server.
type Moto struct {
	Endpoint string // http://127.0.0.1:PORT
	LogPath  string // moto_server's stdout and stderr; removed by Stop
	proc     *process
}

// StartMoto starts moto_server on a free port of 127.0.0.1 and waits until
// it answers HTTP. The binary is $MOTO_SERVER, else moto_server on PATH,
// else one under $PYENV_ROOT or ~/.pyenv/versions/3.11*; a candidate
// that does not start (a pyenv shim without moto) passes to the next.
func StartMoto(ctx context.Context) (*Moto, error) {
	bins := motoServerCandidates()
	if len(bins) == 0 {
		return nil, fmt.Errorf("moto_server not found on PATH, in $PYENV_ROOT or ~/.pyenv/versions/3.11*")
	}
	var errs []error
	for _, bin := range bins {
		for range 2 { // a port taken between freePort and bind costs one retry
			m, err := startMotoOnce(ctx, bin)
			if err == nil {
				return m, nil
			}
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(errs...)
}

// startMotoOnce starts moto_server on one free port and waits for it.
func startMotoOnce(ctx context.Context, bin string) (*Moto, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, fmt.Errorf("creating the moto log file, %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	proc, err := startProcess(cmd)
	if err != nil {
		os.Remove(logFile.Name())
		return nil, err
	}
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), LogPath: logFile.Name(), proc: proc}
	if err := waitFor(ctx, proc, 20*time.Second, m.answers); err != nil {
		logs := m.Logs()
		m.Stop()
		return nil, fmt.Errorf("starting moto_server on port %d, %w; log:\n%s", port, err, logs)
	}
	return m, nil
}

// answers reports whether moto_server answers an HTTP request.
func (m *Moto) answers() bool {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(m.Endpoint + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// motoServerCandidates lists the moto_server binaries to try, in order.
func motoServerCandidates() []string {
	if bin := os.Getenv("MOTO_SERVER"); bin != "" {
		return []string{bin}
	}
	var bins []string
	if bin, err := exec.LookPath("moto_server"); err == nil {
		bins = append(bins, bin)
	}
	var patterns []string
	if root := os.Getenv("PYENV_ROOT"); root != "" {
		patterns = append(patterns, filepath.Join(root, "versions", "*", "bin", "moto_server"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		patterns = append(patterns, filepath.Join(home, ".pyenv", "versions", "3.11*", "bin", "moto_server"))
	}
	for _, pattern := range patterns {
		matches, _ := filepath.Glob(pattern)
		sort.Sort(sort.Reverse(sort.StringSlice(matches))) // newest version first
		bins = append(bins, matches...)
	}
	return bins
}

// Logs returns what moto_server has logged so far.
func (m *Moto) Logs() string {
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		return fmt.Sprintf("(reading %s, %v)", m.LogPath, err)
	}
	return string(b)
}

// Stop kills moto_server (and its children) and removes its log file.
func (m *Moto) Stop() {
	m.proc.stop()
	os.Remove(m.LogPath)
}

// Config returns an SDK configuration that talks to this moto_server:
// region us-east-1, static credentials "testing"/"testing". It ignores the
// environment and the shared config files.
func (m *Moto) Config(ctx context.Context) aws.Config {
	cfg := aws.NewConfig()
	cfg.Region = Region
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("testing", "testing", ""))
	cfg.BaseEndpoint = aws.String(m.Endpoint)
	return *cfg
}

// Env returns the environment variables that point a child process (a
// Lambda bootstrap, awscli, the demo) at this moto_server.
func (m *Moto) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + m.Endpoint,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
	}
}
