package bench

import (
	"encoding/json"
	"fmt"
	"os"
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
// malformed event, all built the same way.
func BenchmarkColdStart(b *testing.B) {
	needMoto(b)
	if runtime.GOOS != "linux" {
		b.Skip("the Lambda RIE runs linux bootstraps")
	}
	untagged := func(b *testing.B) []byte {
		s := newSite(b, nil)
		in := s.instance(b, newAZCIDR, true)
		ev, _ := json.Marshal(map[string]any{"instance-id": in.ID, "action": "attach"})
		return ev
	}
	for _, v := range []struct {
		name, key, binary string
		event             func(*testing.B) []byte
		wantError         bool
	}{
		{"instance-state/malformed", "instance-state, malformed event", "instance-state", func(*testing.B) []byte { return []byte(`[]`) }, true},
		{"instance-state/untagged", "instance-state, manual attach of an untagged instance", "instance-state", untagged, false},
		{"empty/malformed", "empty handler, same event", "empty", func(*testing.B) []byte { return []byte(`[]`) }, false},
	} {
		b.Run(v.name, func(b *testing.B) {
			bin := binary(b, v.binary)
			ev := v.event(b)
			var first, init []time.Duration
			for b.Loop() {
				b.StopTimer()
				rie, err := localaws.StartRIE(ctx, bin, moto.Env())
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				resp, ferr, err := rie.Invoke(ctx, ev)
				d := time.Since(start)
				b.StopTimer()
				if err != nil || (ferr != nil) != v.wantError {
					rie.Stop()
					b.Fatalf("invoke: %v, function error %v, response %s\n%s", err, ferr, resp, rie.Logs())
				}
				if !v.wantError && v.binary != "empty" {
					var r attach.Report
					if err := json.Unmarshal(resp, &r); err != nil || r.Skipped == "" || total(r.Calls) != 1 {
						rie.Stop()
						b.Fatalf("report %s (%v): want skipped after one call", resp, err)
					}
				}
				in, err := initDuration(rie)
				rie.Stop()
				if err != nil {
					b.Fatal(err)
				}
				first, init = append(first, d), append(init, in)
				b.StartTimer()
			}
			f, i := ms(first), ms(init)
			c := &Cold{Runs: len(first), FirstP50: percentile(f, 0.5), FirstP95: percentile(f, 0.95),
				InitP50: percentile(i, 0.5), InitP95: percentile(i, 0.95), Binary: v.binary}
			if fi, err := os.Stat(bin); err == nil {
				c.Size = fi.Size()
			}
			b.ReportMetric(c.FirstP50, "first-p50-ms")
			b.ReportMetric(c.InitP50, "init-p50-ms")
			results.update(func(d *Data) { d.Cold[v.key] = c })
		})
	}
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initDuration reads the RIE's INIT REPORT (its log reaches us through a
// pipe, so it may lag the response a little).
func initDuration(rie *localaws.RIE) (time.Duration, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if m := initReport.FindStringSubmatch(rie.Logs()); m != nil {
			f, err := strconv.ParseFloat(m[1], 64)
			return time.Duration(f * float64(time.Millisecond)), err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no INIT REPORT in the RIE's log:\n%s", rie.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
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
