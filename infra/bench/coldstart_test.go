package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elbattach/elbattach/infra/localaws"
	"github.com/elbattach/elbattach/shared/attach"
)

// BenchmarkColdStart: from the invoke that makes the RIE start the bootstrap
// (the RIE starts it on the first invocation, not before) to the response,
// a new RIE per run; and the RIE's own INIT REPORT (process start to the
// runtime's first /next). The instance-state bootstrap with a malformed event
// (no AWS call) and with a manual attach of an untagged instance (one
// DescribeInstances to moto), and the empty aws-lambda-go handler with the
// malformed event, all built the same way; and the empty handler linking
// the SDK packages the functions use (infra/bench/sdkfloor), the floor their
// package init sets for any handler on those clients. Each iteration runs every variant
// once, in an order that rotates, so that a drift in the machine's load
// weighs on all of them alike and their ratio holds still.
func BenchmarkColdStart(b *testing.B) {
	needMoto(b)
	if runtime.GOOS != "linux" {
		b.Skip("the Lambda RIE runs linux bootstraps")
	}
	s := newSite(b, nil)
	in := s.instance(b, newAZCIDR, true)
	untagged, _ := json.Marshal(map[string]any{"instance-id": in.ID, "action": "attach"})
	malformed := []byte(`[]`)
	variants := []struct {
		key, binary string
		event       []byte
		wantError   bool
		bin         string
		first, init []time.Duration
	}{
		{key: "instance-state, malformed event", binary: "instance-state", event: malformed, wantError: true},
		{key: "instance-state, manual attach of an untagged instance", binary: "instance-state", event: untagged},
		{key: "empty handler, same event", binary: "empty", event: malformed},
		{key: "empty handler linking the SDK packages, same event", binary: "sdkfloor", event: malformed},
		{key: coreFloorKey, binary: "corefloor", event: malformed},
	}
	for i := range variants {
		variants[i].bin = binary(b, variants[i].binary)
	}
	round := 0
	for b.Loop() {
		for k := range variants {
			v := &variants[(k+round)%len(variants)]
			d, in := coldRun(b, v.bin, v.event, v.wantError, v.binary == "instance-state")
			v.first, v.init = append(v.first, d), append(v.init, in)
		}
		round++
	}
	for _, v := range variants {
		f, i := ms(v.first), ms(v.init)
		c := &Cold{Runs: len(v.first), FirstP50: percentile(f, 0.5), FirstP95: percentile(f, 0.95),
			InitP50: percentile(i, 0.5), InitP95: percentile(i, 0.95), Binary: v.binary}
		if fi, err := os.Stat(v.bin); err == nil {
			c.Size = fi.Size()
		}
		results.update(func(d *Data) { d.Cold[v.key] = c })
	}
	ours, empty, floor := percentile(ms(variants[0].first), 0.5), percentile(ms(variants[2].first), 0.5), percentile(ms(variants[3].first), 0.5)
	b.ReportMetric(ours, "first-p50-ms")
	b.ReportMetric(empty, "empty-first-p50-ms")
	b.ReportMetric(ours/empty, "ratio")
	b.ReportMetric(floor/empty, "sdk-floor-ratio")
}

// coreFloorKey is the cold-start variant of infra/bench/corefloor.
const coreFloorKey = "empty handler linking ec2 and both load balancing clients only, same event"

// sdkPackages matches the aws-sdk-go-v2 packages whose init the floor
// measures: the service clients and the config loader.
var sdkPackages = regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/(service/[^/]+|config)$`)

// TestSDKFloorLinksTheFunctionsSDK: the floor links the same SDK service and
// config packages as the benchmarked bootstrap, no fewer and no more.
func TestSDKFloorLinksTheFunctionsSDK(t *testing.T) {
	deps := func(pkg string) []string {
		cmd := exec.Command("go", "list", "-deps", pkg)
		cmd.Dir, cmd.Env = "../..", append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		var sdk []string
		for p := range strings.FieldsSeq(string(out)) {
			if sdkPackages.MatchString(p) {
				sdk = append(sdk, p)
			}
		}
		slices.Sort(sdk)
		return sdk
	}
	fn, floor, core := deps("./functions/instance-state"), deps("./infra/bench/sdkfloor"), deps("./infra/bench/corefloor")
	if len(fn) < 5 || !slices.Equal(fn, floor) {
		t.Errorf("SDK packages:\n instance-state %v\n sdkfloor       %v", fn, floor)
	}
	// The job's floor: the three clients the checklist needs and no more of
	// the SDK's service and config packages, each of them linked by the
	// functions too.
	const svc = "github.com/aws/aws-sdk-go-v2/service/"
	if want := []string{svc + "ec2", svc + "elasticloadbalancing", svc + "elasticloadbalancingv2"}; !slices.Equal(core, want) {
		t.Errorf("corefloor links %v, want %v", core, want)
	}
	for _, p := range core {
		if !slices.Contains(fn, p) {
			t.Errorf("corefloor links %s, which instance-state does not", p)
		}
	}
}

// coldRun starts bin under a new RIE, invokes it once with event and returns
// the time to the response and the RIE's INIT duration. report checks that
// an event that is no error was answered with a skip after one call.
func coldRun(b *testing.B, bin string, event []byte, wantError, report bool) (time.Duration, time.Duration) {
	b.StopTimer()
	defer b.StartTimer()
	rie, err := localaws.StartRIE(ctx, bin, moto.Env())
	if err != nil {
		b.Fatal(err)
	}
	defer rie.Stop()
	b.StartTimer()
	start := time.Now()
	resp, ferr, err := rie.Invoke(ctx, event)
	d := time.Since(start)
	b.StopTimer()
	if err != nil || (ferr != nil) != wantError {
		b.Fatalf("invoke: %v, function error %v, response %s\n%s", err, ferr, resp, rie.Logs())
	}
	if !wantError && report {
		var r attach.Report
		if err := json.Unmarshal(resp, &r); err != nil || r.Skipped == "" || total(r.Calls) != 1 {
			b.Fatalf("report %s (%v): want skipped after one call", resp, err)
		}
	}
	in, err := initDuration(rie)
	if err != nil {
		b.Fatal(err)
	}
	return d, in
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initDuration reads the RIE's INIT REPORT (its log reaches us through a
// pipe, so it may lag the response a little).
func initDuration(rie *localaws.RIE) (time.Duration, error) {
	logs, _ := rie.AwaitLogs("INIT REPORT(", 2*time.Second)
	m := initReport.FindStringSubmatch(logs)
	if m == nil {
		return 0, fmt.Errorf("no INIT REPORT in the RIE's log:\n%s", logs)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	return time.Duration(f * float64(time.Millisecond)), err
}

// BenchmarkPeakRSS: the instance-state bootstrap under the RIE handles the
// launch event of the first instance in a new AZ (a fresh VPC and ALB per
// run; default settle); then the peak resident set (VmHWM) of the
// bootstrap, the RIE's child, is read from /proc.
func BenchmarkPeakRSS(b *testing.B) {
	needMoto(b)
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	bin := binary(b, "instance-state")
	var peaks []float64
	for b.Loop() {
		b.StopTimer()
		s := newSite(b, map[string][]string{"c": {newAZCIDR}})
		in := s.instance(b, newAZCIDR, false)
		rie, err := localaws.StartRIE(ctx, bin, moto.Env())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		resp, ferr, err := rie.Invoke(ctx, sample(b, "instance-running.json", in.ID))
		b.StopTimer()
		var r attach.Report
		if err == nil && ferr == nil {
			err = json.Unmarshal(resp, &r)
		}
		if err != nil || ferr != nil || len(r.Changes) != 5 {
			logs := rie.Logs()
			rie.Stop()
			b.Fatalf("new-AZ attach: %v, %v, %s\n%s", err, ferr, resp, logs)
		}
		kb, err := bootstrapStatus(rie, "VmHWM")
		rie.Stop()
		if err != nil {
			b.Fatal(err)
		}
		peaks = append(peaks, float64(kb)/1024)
		b.StartTimer()
	}
	r := &RSS{Runs: len(peaks), MedianMB: percentile(peaks, 0.5), MaxMB: slices.Max(peaks)}
	b.ReportMetric(r.MaxMB, "peak-MB")
	results.update(func(d *Data) { d.RSS = r })
}

// bootstrapStatus reads a field (in kB) of /proc/<pid>/status of the
// bootstrap the RIE started: the child of the RIE process that listens on
// the RIE's invoke address.
func bootstrapStatus(rie *localaws.RIE, field string) (int, error) {
	addr := strings.TrimPrefix(rie.Endpoint, "http://")
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	parent := map[int]int{}
	riePID := 0
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if args, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil &&
			slices.Contains(strings.Split(string(args), "\x00"), addr) && strings.Contains(string(args), "--runtime-interface-emulator-address") {
			riePID = pid
		}
		if v, err := statusField(pid, "PPid"); err == nil {
			parent[pid] = v
		}
	}
	if riePID == 0 {
		return 0, fmt.Errorf("no RIE process listening on %s", addr)
	}
	for pid, ppid := range parent {
		if ppid == riePID {
			return statusField(pid, field)
		}
	}
	return 0, fmt.Errorf("the RIE (pid %d) has no child", riePID)
}

// statusField reads a numeric field of /proc/<pid>/status ("VmHWM:  16708 kB").
func statusField(pid int, field string) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
