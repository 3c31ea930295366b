package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RIE is a running Lambda Runtime Interface Emulator serving one bootstrap.
type RIE struct {
	Endpoint string // http://127.0.0.1:PORT, the invoke API
	proc     *process
	logs     *syncBuffer
	mu       sync.Mutex // the RIE serves one invocation at a time
}

// FunctionError is an error returned (or a panic or crash) of the function.
// The RIE answers 200 with {"errorMessage","errorType"} for a returned
// error, and 502 with the same shape for a panic or an exited runtime.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

// Error implements error.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// StartRIE runs aws-lambda-rie with bootstrap as the runtime, with env plus
// the parent's PATH and HOME as its (and the function's) environment, and
// waits until it accepts connections. The binary is $RIE_BIN, else the one
// `go tool -n aws-lambda-rie` names in the module root.
func StartRIE(ctx context.Context, bootstrap string, env []string) (*RIE, error) {
	bin, err := rieBinary(ctx)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a port taken between freePort and bind costs one retry
		r, err := startRIEOnce(ctx, bin, bootstrap, env)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

var rieBin struct {
	sync.Mutex
	path string
}

// rieBinary finds (once per process) the aws-lambda-rie binary.
func rieBinary(ctx context.Context) (string, error) {
	if bin := os.Getenv("RIE_BIN"); bin != "" {
		return bin, nil
	}
	rieBin.Lock()
	defer rieBin.Unlock()
	if rieBin.path == "" {
		path, err := goTool(ctx, "aws-lambda-rie")
		if err != nil {
			return "", fmt.Errorf("locating aws-lambda-rie, %w", err)
		}
		rieBin.path = path
	}
	return rieBin.path, nil
}

// startRIEOnce starts the RIE on two free ports and waits for it.
func startRIEOnce(ctx context.Context, bin, bootstrap string, env []string) (*RIE, error) {
	invokePort, err := freePort()
	if err != nil {
		return nil, err
	}
	runtimePort, err := freePort()
	if err != nil {
		return nil, err
	}
	invokeAddr := "127.0.0.1:" + strconv.Itoa(invokePort)
	cmd := exec.Command(bin,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(runtimePort),
		bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	proc, err := startProcess(cmd)
	if err != nil {
		return nil, err
	}
	r := &RIE{Endpoint: "http://" + invokeAddr, proc: proc, logs: logs}
	if err := waitFor(ctx, proc, 10*time.Second, func() bool { return accepts(invokeAddr) }); err != nil {
		r.Stop()
		return nil, fmt.Errorf("starting aws-lambda-rie for %s, %w; log:\n%s", bootstrap, err, logs.String())
	}
	return r, nil
}

// accepts reports whether something listens on addr.
func accepts(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Invoke sends one synchronous invocation and returns the function's
// response. A function that returned an error, panicked or exited yields a
// FunctionError (and a nil resp); err is for a failure to invoke at all.
func (r *RIE) Invoke(ctx context.Context, payload []byte) (resp []byte, funcErr *FunctionError, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	url := r.Endpoint + "/2015-03-31/functions/function/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, nil, fmt.Errorf("building the invoke request, %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("invoking the function, %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the invoke response, %w", err)
	}
	if fe := parseFunctionError(body); fe != nil && (res.StatusCode == http.StatusOK || res.StatusCode == http.StatusBadGateway) {
		return nil, fe, nil
	}
	if res.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("invoking the function, status %d: %s", res.StatusCode, body)
	}
	return body, nil, nil
}

// parseFunctionError returns the error in body when body is exactly an
// error object: errorType and errorMessage (and optionally stackTrace).
func parseFunctionError(body []byte) *FunctionError {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil
	}
	if _, ok := fields["errorType"]; !ok {
		return nil
	}
	if _, ok := fields["errorMessage"]; !ok {
		return nil
	}
	delete(fields, "stackTrace")
	var fe FunctionError
	if len(fields) != 2 || json.Unmarshal(body, &fe) != nil {
		return nil
	}
	return &fe
}

// Logs returns what the RIE and the function wrote to stdout and stderr so far.
func (r *RIE) Logs() string {
	return r.logs.String()
}

// AwaitLogs returns the logs once they contain substr, or, after within,
// the logs as they are and false. The function's output reaches them
// through the RIE and a pipe, so it can lag the invoke's response, the more
// so on a loaded machine.
func (r *RIE) AwaitLogs(substr string, within time.Duration) (string, bool) {
	deadline := time.Now().Add(within)
	for {
		logs := r.Logs()
		if strings.Contains(logs, substr) {
			return logs, true
		}
		if time.Now().After(deadline) {
			return logs, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the RIE and the function's process.
func (r *RIE) Stop() {
	r.proc.stop()
}
