// Package e2e runs elbattach as it runs in AWS: the real bootstrap binaries
// under the Lambda Runtime Interface Emulator, fed by the EventBridge rules of
// template.yaml, against one moto_server shared by the whole package. Each
// scenario builds its own VPC, so scenarios run in parallel.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elbattach/elbattach/infra/localaws"
)

var (
	moto       *localaws.Moto
	awsCfg     aws.Config
	bootstraps = map[string]string{} // function folder -> built bootstrap
	rules      []localaws.Rule
	root       string
)

// Functions and their template logical IDs.
const (
	StateFn     = "instance-state"
	TagFn       = "tag-change"
	LifecycleFn = "lifecycle"
	ReconcileFn = "reconcile"
)

var logicalID = map[string]string{StateFn: "InstanceStateFunction", TagFn: "TagChangeFunction", LifecycleFn: "LifecycleFunction", ReconcileFn: "ReconcileFunction"}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		return fail(err)
	}
	if rules, err = localaws.LoadRules(filepath.Join(root, "template.yaml")); err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "elbattach-e2e-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	for _, fn := range []string{StateFn, TagFn, LifecycleFn, ReconcileFn} {
		if bootstraps[fn], err = build(ctx, dir, fn); err != nil {
			return fail(err)
		}
	}
	if moto, err = localaws.StartMoto(ctx); err != nil {
		return fail(err)
	}
	defer moto.Stop()
	awsCfg = moto.Config(ctx)
	code := m.Run()
	if code == 0 {
		code = checkRecordedCalls()
	}
	return code
}

// checkRecordedCalls fails the package when a function made a call that
// template.yaml does not grant (least privilege, from recorded runs).
func checkRecordedCalls() int {
	granted, err := templateActions()
	if err != nil {
		return fail(err)
	}
	if missing := recordedNotGranted(granted); len(missing) > 0 {
		fmt.Fprintln(os.Stderr, "calls made by the functions that template.yaml does not grant:", missing)
		return 1
	}
	recorded.Lock()
	fmt.Printf("least privilege: %d operations recorded from the functions' runs, all granted by template.yaml\n", len(recorded.ops))
	recorded.Unlock()
	return 0
}

// build compiles a function as Lambda runs it: a static linux bootstrap.
// BOOTSTRAP_DIR (set by make) names prebuilt ones instead.
func build(ctx context.Context, dir, fn string) (string, error) {
	if pre := os.Getenv("BOOTSTRAP_DIR"); pre != "" {
		return filepath.Join(pre, fn, "bootstrap"), nil
	}
	out := filepath.Join(dir, fn, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./functions/"+fn)
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", fn, err, b)
	}
	return out, nil
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "e2e setup:", err)
	return 1
}
