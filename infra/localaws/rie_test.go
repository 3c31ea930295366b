package localaws

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildEcho builds testdata/echo into a bootstrap binary.
func buildEcho(t *testing.T) string {
	t.Helper()
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "./testdata/echo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the echo lambda, %v: %s", err, out)
	}
	return bootstrap
}

func TestRIE(t *testing.T) {
	t.Parallel()
	rie, err := StartRIE(t.Context(), buildEcho(t), testMoto.Env())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rie.Stop)
	cases := []struct {
		name, payload, wantResp, wantType, wantMessage string
	}{
		{name: "echo", payload: `{"message":"hello"}`, wantResp: `{"message":"hello"}`},
		{name: "returned error", payload: `{"fail":true,"message":"boom"}`, wantType: "errorString", wantMessage: "asked to fail: boom"},
		{name: "panic", payload: `{"panic":true,"message":"oops"}`, wantType: "string", wantMessage: "asked to panic: oops"},
		{name: "exit", payload: `{"exit":true}`, wantType: "Runtime.ExitError", wantMessage: "exit status 3"},
		{name: "after a crash", payload: `{"message":"again"}`, wantResp: `{"message":"again"}`},
	}
	for _, c := range cases {
		resp, fe, err := rie.Invoke(t.Context(), []byte(c.payload))
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, rie.Logs())
		}
		switch {
		case c.wantType == "" && (fe != nil || string(resp) != c.wantResp):
			t.Errorf("%s: got %s, %v; want %s", c.name, resp, fe, c.wantResp)
		case c.wantType != "" && (fe == nil || fe.Type != c.wantType || !strings.Contains(fe.Message, c.wantMessage) || resp != nil):
			t.Errorf("%s: got %s, %v; want %s: %s", c.name, resp, fe, c.wantType, c.wantMessage)
		}
	}
	logs := rie.Logs()
	if !strings.Contains(logs, `echo: got {"message":"hello"}`) || !strings.Contains(logs, "AWS_ENDPOINT_URL="+testMoto.Endpoint) {
		t.Errorf("logs miss the function's output or environment:\n%s", logs)
	}
}

func TestParseFunctionError(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		`{"errorType":"T","errorMessage":"m"}`:                 true,
		`{"errorType":"T","errorMessage":"m","stackTrace":[]}`: true,
		`{"errorType":"T","errorMessage":"m","other":1}`:       false,
		`{"errorMessage":"m"}`:                                 false,
		`"errorType"`:                                          false,
		`{"errorType":1,"errorMessage":"m"}`:                   false,
	} {
		if got := parseFunctionError([]byte(body)) != nil; got != want {
			t.Errorf("parseFunctionError(%s) = %v, want %v", body, got, want)
		}
	}
}
