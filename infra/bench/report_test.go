package bench

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/observe"
)

// Short operation names for the tables.
const (
	dInst = "EC2.DescribeInstances"
	dTG   = "Elastic Load Balancing v2.DescribeTargetGroups"
	dTags = "Elastic Load Balancing v2.DescribeTags"
	dLB   = "Elastic Load Balancing v2.DescribeLoadBalancers"
	dTH   = "Elastic Load Balancing v2.DescribeTargetHealth"
	dSG   = "EC2.DescribeSecurityGroups"
	dSub  = "EC2.DescribeSubnets"
	dRT   = "EC2.DescribeRouteTables"
	auth  = "EC2.AuthorizeSecurityGroupIngress"
	reg   = "Elastic Load Balancing v2.RegisterTargets"
	dereg = "Elastic Load Balancing v2.DeregisterTargets"
	cSub  = "EC2.CreateSubnet"
	assoc = "EC2.AssociateRouteTable"
	setSn = "Elastic Load Balancing v2.SetSubnets"
)

// coveredChecks is why a cold run in a covered AZ makes more calls than the
// job needs.
const coveredChecks = "the checks that run whenever something is about to change: the network ACLs of both subnets, the route tables (the instance subnet's route to a NAT gateway), the listeners (their ports are what the load balancer's group and the public subnet's ACL must let in from clients); and the health read that verifies the registration. The subnets, for their CIDRs, are read only when an ACL of the path does not let everything through (here the default ACL lets everything through)"

// row describes one scenario of the report: the calls the job needs at
// least, and why elbattach makes more.
type row struct {
	key, title string
	min        []string
	why        string // the difference, when there is one
	same       string // why the minimum is the minimum
}

var rows = []row{
	{key: "untagged", title: "untagged launch", min: []string{dInst},
		same: "DescribeInstances reads the tag; without it nothing else is read"},
	{key: "steady-warm", title: "steady state, warm container (cache populated: Observer.TTL = observe.TargetTTL)", min: []string{dInst, dTH},
		same: "the instance (tag, state, AZ) and its registration and health; the target group and load balancer come from the cache, and a healthy target on the traffic port proves the path, so no security group is read"},
	{key: "steady-cold", title: "steady state, cold container (fresh Observer)", min: []string{dInst, dTG, dTags, dLB, dTH},
		same: "instance, target group, its opt-in tags, load balancer, registration"},
	{key: "covered-az", title: "first instance in a covered AZ (subnet there, rule missing, not registered)", min: []string{dInst, dTG, dTags, dLB, dTH, dSG, auth, reg},
		why: coveredChecks},
	{key: "scale-out-cold", title: "next instance in a covered AZ, cold container (a scale-out launch: its group open already, not registered)", min: []string{dInst, dTG, dTags, dLB, dTH, dSG, reg},
		why: coveredChecks},
	{key: "scale-out-warm", title: "next instance in a covered AZ, warm container (it attached the scale-out's previous instance)", min: []string{dInst, dTH, dLB, dSG, reg},
		why: "the health read that verifies the registration. The target group, its tags, the listeners and the VPC's network ACLs and route tables (for the checks, which found no network ACL rule missing: that would read them again) come from the cache; the load balancer is read again before anything changes (counted in the minimum)"},
	{key: "new-az", title: "first instance in a new AZ (create subnet, route, add to ALB, rule, register)", min: []string{dInst, dTG, dTags, dLB, dSG, dSub, dRT, cSub, assoc, setSn, auth, reg},
		why: "the checks that run whenever something is about to change: the network ACLs of both subnets, and the listeners (their ports are what the load balancer's group and the public subnet's ACL must let in from clients; a run that adds an AZ skips the health read when one forwards to the group); and the read-back of the ALB's subnets a settle delay after SetSubnets (it replaces the whole list: lost-update protection)"},
	{key: "new-az-warm", title: "first instance in a new AZ, warm container (it registered an instance of the group in a covered AZ just before; the group is open)", min: []string{dInst, dLB, dSG, dSub, dRT, cSub, assoc, setSn, reg},
		why: "the read-back of the ALB's subnets a settle delay after SetSubnets (lost-update protection). The target group, its tags, the listeners and the network ACLs (for the checks, which found no rule missing: that would read them again) come from the cache; the subnets and route tables are read afresh for the choice of subnet; the load balancer is read again before anything changes (counted in the minimum: nothing is changed on the word of a cached one), and that fresh list is what SetSubnets writes; a group still to open is one call more"},
	{key: "detach", title: "detach (instance stopped)", min: []string{dInst, dTG, dTags, dTH, dereg},
		same: "the instance, the target group and its opt-in, the ports the instance is registered on, the deregistration; the load balancer's ARN names it for the report, so it is not read"},
}

// render writes the Markdown report.
func render(s *store, bins []sizeRow) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	d := &s.Data
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("# elbattach benchmarks\n\n")
	p("Measured on %s/%s, %d CPUs, %s; moto_server started by the test package (one per `go test` run, shared by its benchmarks). ",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	if flags := buildFlags(); flags != "" {
		p("Test binary built with %s. ", flags)
	}
	p("Raw `go test` output: `build/bench.txt`. Runs:\n\n")
	for _, inv := range d.Invocations {
		mem := ""
		if inv.Benchmem {
			mem = " -benchmem"
		}
		p("- `go test -run '^$' -bench '%s' -benchtime=%s%s ./infra/bench/` (finished %s)\n", inv.Bench, inv.Benchtime, mem, inv.At.Format("2006-01-02 15:04:05Z"))
	}

	if ts := targets(d); len(ts) > 0 {
		p("\n## Targets (issue 5)\n\nEach target beside what this report measured (the worst run where runs differ); the sections below hold the detail.\n\n")
		p("| target | measured | verdict |\n|---|---|---|\n")
		for _, t := range ts {
			p("| %s | %s | %s |\n", t.target, t.measured, t.verdict)
		}
	}

	p("\n## 1. AWS API calls per event\n\n")
	p("Counted by `awsclient.Counter` (an SDK finalize middleware: every attempt, retries included) through `attach.Pipeline`, " +
		"behind the instance-state `attach.Handler`, in process, with real SDK clients against moto; fakeaws records its calls itself. " +
		"Outcome events are off (`Handler.Events` nil): in the deployed function a run that changes something, or fails, makes one " +
		"more call, `events:PutEvents`. Change scenarios run on a new container (fresh `Observer`).\n\n")
	p("| scenario | calls (moto) | calls (fakeaws) | minimum | difference |\n|---|---:|---:|---:|---|\n")
	for _, r := range rows {
		mk := "moto/" + r.key
		m, f := d.Scenarios[mk], d.Scenarios["fakeaws/"+r.key]
		if m == nil && f == nil {
			continue
		}
		diff := "—"
		if m != nil {
			extra := extraOps(m.Ops, r.min)
			switch {
			case len(extra) == 0 && callsOf(m) == len(r.min):
				diff = "none: " + r.same
			default:
				diff = fmt.Sprintf("+%d (%s): %s", callsOf(m)-len(r.min), strings.Join(extra, ", "), r.why)
			}
		}
		p("| %s | %s | %s | %d | %s |\n", r.title, callsCell(m), callsCell(f), len(r.min), diff)
	}
	if i := slices.IndexFunc(rows, func(r row) bool { return r.key == "new-az" }); d.Scenarios["moto/new-az"] != nil {
		r := rows[i]
		p("\nMinimum for a new AZ (%d): %s.\n", len(r.min), strings.Join(shortOps(r.min), ", "))
	}
	p("\nCalls by operation, moto, one run of each scenario:\n\n")
	for _, r := range rows {
		if m := d.Scenarios["moto/"+r.key]; m != nil {
			p("- %s: %s\n", r.title, opsLine(m.Ops))
		}
	}

	p("\n## 2. Handler latency\n\n")
	p("Wall time of `Handler.Handle` (parse, pipeline, EMF line and slog JSON formatted and discarded), one event at a time; " +
		"fixtures are built untimed. moto answers over HTTP on this machine and shares its CPUs; fakeaws answers in memory with no " +
		"latency, so its column is elbattach's own overhead.\n\n")
	p("| scenario | settle | moto runs | moto p50 | moto p95 | fakeaws runs | fakeaws p50 | fakeaws p95 |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	latencyRow := func(title, mk, fk string) {
		m, f := d.Scenarios[mk], d.Scenarios[fk]
		if m == nil && f == nil {
			return
		}
		settle := "—"
		for _, x := range []*Scenario{m, f} {
			if x != nil && x.Settle != "" {
				settle = x.Settle
			}
		}
		if m != nil && f != nil && m.Settle != f.Settle && m.Settle != "" && f.Settle != "" {
			settle = "moto " + m.Settle + "; fakeaws " + f.Settle
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", title, settle, runs(m), msCell(m, 50), msCell(m, 95), runs(f), msCell(f, 50), msCell(f, 95))
	}
	for _, r := range rows {
		switch r.key {
		case "new-az":
			latencyRow("first instance in a new AZ", "moto/new-az", "fakeaws/new-az")
			latencyRow("first instance in a new AZ, no settle delay", "moto/new-az-nosettle", "")
		default:
			latencyRow(r.title, "moto/"+r.key, "fakeaws/"+r.key)
		}
	}
	if m := d.Scenarios["moto/new-az"]; m != nil {
		p("\nEach new-AZ run has a fresh VPC and ALB (built untimed). ")
		p("With the functions' setting, `apply.Applier.Settle` = 0 = `apply.DefaultSettle` (%s), the wait after `SetSubnets` "+
			"before reading the list back dominates the new-AZ latency", apply.DefaultSettle)
		if n := d.Scenarios["moto/new-az-nosettle"]; n != nil {
			p(" (p50 %s with it, %s without)", fmtMS(m.P50), fmtMS(n.P50))
		}
		p("; the fakeaws new-AZ runs use Settle = 1 ns.\n")
	}
	var own float64
	for k, sc := range d.Scenarios {
		if strings.HasPrefix(k, "fakeaws/") {
			own = max(own, sc.P50)
		}
	}
	if m, f := d.Scenarios["moto/steady-cold"], d.Scenarios["fakeaws/steady-cold"]; m != nil && f != nil && m.CallsMin > 0 {
		p("\nelbattach's own time (fakeaws p50) is at most %s per event; the rest of the moto column is moto itself: "+
			"(moto p50 − fakeaws p50) / calls = %s per call in the cold steady state (moto's DescribeInstances is the slowest here, "+
			"about %s alone in the untagged launch). ", fmtMS(own), fmtMS((m.P50-f.P50)/float64(m.CallsMin)), fmtMS(untaggedP50(d)))
	}
	p("Warm steady state uses the target cache (TTL %s).", observe.TargetTTL)
	for _, k := range []string{"covered-az", "new-az"} {
		if r := d.RoundTrips[k]; r != nil {
			p(" With %.0f ms per call (fakeaws, `BenchmarkRoundTrips`, %d runs), the %s run takes p50 %s: %.1f round trips for its %d calls (observe makes its independent reads at once).",
				r.RTT, r.Runs, k, fmtMS(r.P50), r.P50/r.RTT, r.Calls)
		}
	}
	if m := d.Scenarios["moto/new-az"]; m != nil && m.Runs < 20 {
		p(" The new-AZ p95 (nearest rank) of %d runs is their maximum.", m.Runs)
	}
	p("\n")

	p("\n## 3. Cold start, binary size, memory\n\n")
	if len(d.Cold) > 0 {
		p("Under the Lambda Runtime Interface Emulator (`localaws.StartRIE`, a new RIE per run). The RIE starts the bootstrap on the " +
			"first invocation, so *first response* is the time from that invoke (the process start) to its response; *INIT* is the " +
			"RIE's own INIT REPORT (process start to the runtime's first request for work). Local-arch binaries built as `make build` " +
			"builds the functions (`CGO_ENABLED=0 GOOS=linux go build -tags lambda.norpc -trimpath -ldflags='-s -w'`).\n\n")
		p("| bootstrap, event | runs | first response p50 | p95 | INIT p50 | p95 | size |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, k := range slices.Sorted(maps.Keys(d.Cold)) {
			c := d.Cold[k]
			p("| %s | %d | %s | %s | %s | %s | %s |\n", k, c.Runs, fmtMS(c.FirstP50), fmtMS(c.FirstP95), fmtMS(c.InitP50), fmtMS(c.InitP95), fmtSize(c.Size))
		}
		ours, empty := d.Cold["instance-state, malformed event"], d.Cold["empty handler, same event"]
		if ours != nil && empty != nil {
			first, init := ours.FirstP50/empty.FirstP50, ours.InitP50/empty.InitP50
			p("\nCold start, instance-state / empty handler (medians, same event): first response **%.2fx**, INIT %.2fx; target <= 1.3x: **%s**.\n",
				first, init, verdict(first <= 1.3))
			if floor := d.Cold["empty handler linking the SDK packages, same event"]; floor != nil {
				p("\nThe floor the SDK sets: the empty handler linking the aws-sdk-go-v2 packages the functions use (`config`, `ec2`, "+
					"`elasticloadbalancing`, `elasticloadbalancingv2`, `eventbridge`), without a call into them, answers in **%.2fx** the "+
					"empty handler's time: their package init alone. instance-state / that floor: %.2fx (elbattach's own init, "+
					"configuration and client construction).\n", floor.FirstP50/empty.FirstP50, ours.FirstP50/floor.FirstP50)
			}
			if core := d.Cold[coreFloorKey]; core != nil {
				p("\nThe floor of the job itself: the empty handler linking only `ec2`, `elasticloadbalancing` and "+
					"`elasticloadbalancingv2` (infra/bench/corefloor: the three SDK clients the checklist calls; "+
					"no `config`, no `eventbridge`), never calling them, answers in **%.2fx** the empty handler's time. A handler that "+
					"loads its configuration, builds its clients and runs its own code can only add to that.\n", core.FirstP50/empty.FirstP50)
			}
		}
	}
	if len(bins) > 0 {
		p("\nBinary sizes (`make build`: arm64, `-s -w -trimpath`; `make build-local`: %s):\n\n| binary | arm64 | %s |\n|---|---:|---:|\n", runtime.GOARCH, runtime.GOARCH)
		for _, b := range bins {
			p("| %s | %s | %s |\n", b.name, fmtSize(b.arm64), fmtSize(b.local))
		}
	}
	if r := d.RSS; r != nil {
		p("\nPeak RSS of the instance-state bootstrap (VmHWM of the RIE's child, read from /proc after it handled the first instance "+
			"in a new AZ; default settle; %d runs): median **%.1f MB**, max %.1f MB; target <= 64 MB at the template's MemorySize 128: **%s**.\n",
			r.Runs, r.MedianMB, r.MaxMB, verdict(r.MaxMB <= 64))
	}

	if sys, bun := d.Roots["system"], d.Roots["bundle"]; sys != nil && bun != nil {
		p("\nTLS roots, loaded in a fresh process the way the first TLS handshake loads them (`BenchmarkTLSRoots`, a child process "+
			"per run, no `SSL_CERT_*` variables; %d runs each): Go's default `x509.SystemCertPool` (the bundle file, then every file "+
			"of /etc/ssl/certs and /etc/pki/tls/certs) p50 %.1f ms, p95 %.1f ms; elbattach's `awsclient.Roots` (the bundle file "+
			"alone) p50 %.1f ms, p95 %.1f ms. The RIE runs above talk plain HTTP to moto and load no roots; in Lambda the first AWS "+
			"call does (on Amazon Linux 2023, golang/go#79018).\n", sys.Runs, sys.P50, sys.P95, bun.P50, bun.P95)
	}

	p("\n## 4. Burst\n\n")
	if len(d.Bursts) == 0 {
		p("Not run.\n")
	} else {
		p("N launch events at once over three AZs the ALB does not cover (us-east-1c, d, e), each on its own container " +
			"(pipeline with its own target cache, default settle), in goroutines of one process against one moto, through a " +
			"proxy that forwards `CreateSubnet` and `AuthorizeSecurityGroup*` calls one at a time (AWS's atomic CIDR-conflict and " +
			"duplicate-rule checks; moto checks, then inserts, unlocked). Converged = " +
			"exactly one public subnet created per AZ and on the ALB, every instance registered, one rule into the instances' group.\n\n")
		p("| N | wall | calls | calls/event | subnets created | CreateSubnet attempts | SetSubnets calls | per-event p50 / p95 / max | converged |\n|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, k := range slices.SortedFunc(maps.Keys(d.Bursts), func(a, b string) int { return d.Bursts[a].N - d.Bursts[b].N }) {
			r := d.Bursts[k]
			conv := "yes"
			if !r.Converged {
				conv = "**no**: " + r.Detail
			}
			p("| %d | %.1f s | %d | %.1f | %d | %d | %d | %.1f / %.1f / %.1f s | %s |\n", r.N, r.Wall, r.Calls, float64(r.Calls)/float64(r.N),
				r.SubnetsCreated, r.CreateSubnet, r.SetSubnets, r.P50, r.P95, r.Max, conv)
		}
		p("\nCreateSubnet attempts beyond one per AZ are runs that lost the race for the same (deterministic) block: AWS answers " +
			"`InvalidSubnet.Conflict`; the run reads the VPC's subnets (one `DescribeSubnets`) and adopts the winner's subnet when it is " +
			"elbattach's in the same AZ, else tries the next free block. Calls by operation:\n\n")
		for _, k := range slices.SortedFunc(maps.Keys(d.Bursts), func(a, b string) int { return d.Bursts[a].N - d.Bursts[b].N }) {
			p("- N=%s: %s\n", k, opsLine(d.Bursts[k].Ops))
		}
	}
	return w.String()
}

// untaggedP50 is the moto p50 of the untagged launch (one call), or NaN.
func untaggedP50(d *Data) float64 {
	if u := d.Scenarios["moto/untagged"]; u != nil {
		return u.P50
	}
	return math.NaN()
}

// buildFlags lists the build settings of the test binary that make bench
// sets (the functions' flags, so that it reuses make build-local's packages).
func buildFlags() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var out []string
	for _, s := range bi.Settings {
		switch s.Key {
		case "-tags", "-trimpath", "CGO_ENABLED":
			out = append(out, "`"+s.Key+"="+s.Value+"`")
		}
	}
	return strings.Join(out, " ")
}

// sizeRow is one binary's size per architecture (0: not built).
type sizeRow struct {
	name         string
	arm64, local int64
}

// sizes reads the functions' bootstraps in build/ (make build) and
// build/local/ (make build-local), and the empty handler's.
func sizes() []sizeRow {
	var out []sizeRow
	fns, _ := os.ReadDir(filepath.Join(root, "functions"))
	for _, fn := range fns {
		if !fn.IsDir() {
			continue
		}
		r := sizeRow{name: fn.Name()}
		if fi, err := os.Stat(filepath.Join(root, "build", fn.Name(), "bootstrap")); err == nil {
			r.arm64 = fi.Size()
		}
		if fi, err := os.Stat(filepath.Join(root, "build", "local", fn.Name(), "bootstrap")); err == nil {
			r.local = fi.Size()
		}
		out = append(out, r)
	}
	results.mu.Lock()
	defer results.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(results.Sizes)) {
		out = append(out, sizeRow{name: name, arm64: results.Sizes[name]["arm64"], local: results.Sizes[name][runtime.GOARCH]})
	}
	return out
}

// extraOps lists the calls of ops beyond the multiset min, shortened.
func extraOps(ops map[string]int, min []string) []string {
	left := map[string]int{}
	for k, v := range ops {
		left[k] = v
	}
	for _, op := range min {
		left[op]--
	}
	var out []string
	for _, op := range slices.Sorted(maps.Keys(left)) {
		for range left[op] {
			out = append(out, shortOp(op))
		}
	}
	return out
}

func callsOf(s *Scenario) int { return total(s.Ops) }

func callsCell(s *Scenario) string {
	switch {
	case s == nil:
		return "—"
	case s.CallsMin != s.CallsMax:
		return fmt.Sprintf("%d–%d", s.CallsMin, s.CallsMax)
	}
	return fmt.Sprint(s.CallsMin)
}

func shortOp(op string) string {
	svc, name, _ := strings.Cut(op, ".")
	switch svc {
	case "EC2":
		return "ec2:" + name
	case "Elastic Load Balancing v2", "Elastic Load Balancing":
		return "elb:" + name
	}
	return op
}

func shortOps(ops []string) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = shortOp(op)
	}
	return out
}

func opsLine(ops map[string]int) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		parts = append(parts, fmt.Sprintf("%s %d", shortOp(op), ops[op]))
	}
	return fmt.Sprintf("%d = %s", total(ops), strings.Join(parts, ", "))
}

func runs(s *Scenario) string {
	if s == nil {
		return "—"
	}
	return fmt.Sprint(s.Runs)
}

func msCell(s *Scenario, q int) string {
	if s == nil {
		return "—"
	}
	if q == 50 {
		return fmtMS(s.P50)
	}
	return fmtMS(s.P95)
}

func fmtMS(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func fmtSize(n int64) string {
	if n == 0 {
		return "not built"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// target is one row of the targets table.
type target struct{ target, measured, verdict string }

// targets checks the targets against what d holds, leaving out
// those this report has no measurement for.
func targets(d *Data) []target {
	var out []target
	calls := func(key, title string, most int) {
		if m := d.Scenarios["moto/"+key]; m != nil {
			unit := "calls"
			if most == 1 {
				unit = "call"
			}
			out = append(out, target{fmt.Sprintf("%s: at most %d %s", title, most, unit), fmt.Sprint(m.CallsMax), verdict(m.CallsMax <= most)})
		}
	}
	calls("untagged", "untagged launch", 1)
	calls("steady-cold", "steady state, cold container", 5)
	calls("steady-warm", "steady state, warm container", 3)
	calls("new-az", "first instance in a new AZ, cold container", 12)
	calls("new-az-warm", "first instance in a new AZ, warm container", 12)
	ours, empty, floor := d.Cold["instance-state, malformed event"], d.Cold["empty handler, same event"], d.Cold["empty handler linking the SDK packages, same event"]
	if ours != nil && empty != nil {
		m := fmt.Sprintf("%.2fx", ours.FirstP50/empty.FirstP50)
		if floor != nil {
			m += fmt.Sprintf(" (the SDK packages alone: %.2fx", floor.FirstP50/empty.FirstP50)
			if core := d.Cold[coreFloorKey]; core != nil {
				m += fmt.Sprintf("; ec2 and both load balancing clients alone: %.2fx", core.FirstP50/empty.FirstP50)
			}
			m += ")"
		}
		out = append(out, target{"cold start: at most 1.3x the empty handler's first response", m, verdict(ours.FirstP50/empty.FirstP50 <= 1.3)})
	}
	if r := d.RSS; r != nil {
		out = append(out, target{"peak RSS: at most 64 MB", fmt.Sprintf("%.1f MB", r.MaxMB), verdict(r.MaxMB <= 64)})
	}
	for _, k := range slices.SortedFunc(maps.Keys(d.Bursts), func(a, b string) int { return d.Bursts[a].N - d.Bursts[b].N }) {
		r, azs := d.Bursts[k], len(burstAZs)
		out = append(out,
			target{fmt.Sprintf("burst N=%d: one subnet per new AZ", r.N), fmt.Sprintf("%d subnets for %d AZs", r.SubnetsCreated, azs), verdict(r.Converged && r.SubnetsCreated == azs)},
			target{fmt.Sprintf("burst N=%d: at most one SetSubnets per AZ", r.N), fmt.Sprintf("%d for %d AZs", r.SetSubnets, azs), verdict(r.SetSubnets <= azs)})
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func TestPercentile(t *testing.T) {
	s := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for q, want := range map[float64]float64{0.5: 5, 0.95: 10, 0.1: 1, 1: 10} {
		if got := percentile(s, q); got != want {
			t.Errorf("percentile(%v) = %v, want %v", q, got, want)
		}
	}
	if !math.IsNaN(percentile(nil, 0.5)) {
		t.Error("percentile of nothing is not NaN")
	}
}

func TestExtraOps(t *testing.T) {
	got := extraOps(map[string]int{dInst: 1, dTH: 2, dLB: 1}, []string{dInst, dTH})
	if want := []string{"elb:DescribeLoadBalancers", "elb:DescribeTargetHealth"}; !slices.Equal(got, want) {
		t.Errorf("extraOps = %v, want %v", got, want)
	}
}

func TestRender(t *testing.T) {
	var s store
	s.update(func(d *Data) {
		d.Scenarios["moto/steady-warm"] = &Scenario{Runs: 60, CallsMin: 2, CallsMax: 2, Ops: map[string]int{dInst: 1, dTH: 1}, P50: 20, P95: 30}
		d.Scenarios["moto/detach"] = &Scenario{Runs: 60, CallsMin: 6, CallsMax: 6, Ops: map[string]int{dInst: 1, dTG: 1, dTags: 1, dLB: 1, dTH: 1, dereg: 1}}
		d.Bursts["50"] = &Burst{N: 50, Converged: true, Ops: map[string]int{}}
	})
	md := render(&s, []sizeRow{{name: "instance-state", arm64: 12 << 20}})
	for _, want := range []string{"| 2 | — | 2 | none: ", "+1 (elb:DescribeLoadBalancers)", "| 50 |", "| instance-state | 12.0 MB | not built |",
		"| steady state, warm container: at most 3 calls | 2 | met |", "| burst N=50: one subnet per new AZ | 0 subnets for 3 AZs | not met |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
