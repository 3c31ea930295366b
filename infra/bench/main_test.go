// Package bench measures elbattach for `make bench`: the AWS calls one event
// costs, handler latency against moto and against the zero-latency fake
// (shared/fakeaws), cold start, binary sizes and memory under the Lambda
// Runtime Interface Emulator, and a burst of launches.
//
// The benchmarks put their numbers into package-level results; TestMain
// writes them to build/bench.md (BENCH_OUT overrides) after m.Run. With
// BENCH_MERGE=1 it first reads the results an earlier invocation left in
// build/bench.json, so that `make bench` can run the groups with different
// -benchtime values and still write one report.
//
// Without -bench (`go test ./...`) TestMain starts nothing.
package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/elbattach/elbattach/infra/localaws"
)

var (
	moto *localaws.Moto
	root string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		return m.Run() // no benchmark selected: nothing to start, no report
	}
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		return fail(err)
	}
	out := os.Getenv("BENCH_OUT")
	if out == "" {
		out = filepath.Join(root, "build", "bench.md")
	}
	jsonPath := strings.TrimSuffix(out, filepath.Ext(out)) + ".json"
	if os.Getenv("BENCH_MERGE") == "1" {
		if err := results.load(jsonPath); err != nil && !os.IsNotExist(err) {
			return fail(err)
		}
	}
	if moto, err = localaws.StartMoto(context.Background()); err != nil {
		return fail(err)
	}
	code := m.Run()
	moto.Stop()
	builds.cleanup()
	results.addInvocation(flag.Lookup("test.bench").Value.String(), flag.Lookup("test.benchtime").Value.String(),
		flag.Lookup("test.benchmem").Value.String() == "true")
	if err := results.save(jsonPath); err != nil {
		return fail(err)
	}
	md := render(&results, sizes())
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return fail(err)
	}
	fmt.Printf("bench report: %s\n", out)
	return code
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "bench:", err)
	return 1
}

// needMoto skips a benchmark when TestMain did not start moto.
func needMoto(b *testing.B) {
	b.Helper()
	if moto == nil {
		b.Skip("moto not started")
	}
}

// builds holds the local-arch binaries the RIE benchmarks run, built once.
var builds buildSet

type buildSet struct {
	sync.Mutex
	dir   string
	paths map[string]string
}

// binary returns a local-arch bootstrap for name: "instance-state" (the one
// BOOTSTRAP_DIR names, as make build-local built it, else built here) or
// "empty" (./infra/bench/empty) or "sdkfloor" (./infra/bench/sdkfloor). All
// are built as make build builds the functions. The baselines are also built
// for arm64, for the size table.
func binary(b *testing.B, name string) string {
	b.Helper()
	builds.Lock()
	defer builds.Unlock()
	if p, ok := builds.paths[name]; ok {
		return p
	}
	if builds.paths == nil {
		builds.paths = map[string]string{}
	}
	baseline, isBaseline := baselines[name]
	if pre := os.Getenv("BOOTSTRAP_DIR"); pre != "" && !isBaseline {
		builds.paths[name] = filepath.Join(pre, name, "bootstrap")
		return builds.paths[name]
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "elbattach-bench-")
		if err != nil {
			b.Fatal(err)
		}
		builds.dir = dir
	}
	pkg := "./functions/" + name
	if isBaseline {
		pkg = baseline.pkg
	}
	arches := []string{runtime.GOARCH}
	if isBaseline && runtime.GOARCH != "arm64" {
		arches = append(arches, "arm64")
	}
	for _, arch := range arches {
		out := filepath.Join(builds.dir, arch, name, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("building %s for %s: %v\n%s", pkg, arch, err, o)
		}
		if fi, err := os.Stat(out); err == nil && isBaseline {
			results.setSize(baseline.title, arch, fi.Size())
		}
		if arch == runtime.GOARCH {
			builds.paths[name] = out
		}
	}
	return builds.paths[name]
}

// baselines are the handlers the cold start compares the functions with.
var baselines = map[string]struct{ pkg, title string }{
	"empty":     {"./infra/bench/empty", "empty handler (infra/bench/empty)"},
	"sdkfloor":  {"./infra/bench/sdkfloor", "empty handler linking the SDK packages (infra/bench/sdkfloor)"},
	"corefloor": {"./infra/bench/corefloor", "empty handler linking ec2 and both load balancing clients only (infra/bench/corefloor)"},
}

// cleanup removes what binary built.
func (bs *buildSet) cleanup() {
	bs.Lock()
	defer bs.Unlock()
	if bs.dir != "" {
		os.RemoveAll(bs.dir)
	}
}

// readJSON decodes a JSON file into v.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
