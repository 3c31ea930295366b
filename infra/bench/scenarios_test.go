package bench

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/awsclient"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
)

// step is one prepared run: the handler (one function container) and the
// event to time. On fakeaws, world is where the run's calls are recorded;
// on moto the report's Calls (the SDK middleware) counts them.
type step struct {
	h     *attach.Handler
	event []byte
	world *fakeaws.World
}

// scenario is one kind of event, prepared on moto or on fakeaws. prepare
// builds the fixtures once; the func it returns readies one run (untimed).
type scenario struct {
	name    string
	changes int  // changes each run makes
	skipped bool // each run is skipped (no tag)
	moto    func(b *testing.B, c *clients) func() step
	fake    func(b *testing.B) func() step
}

var scenarios = []scenario{
	{name: "untagged", skipped: true, moto: motoUntagged, fake: fakeUntagged},
	{name: "steady-warm", moto: motoSteady(true), fake: fakeSteady(true)},
	{name: "steady-cold", moto: motoSteady(false), fake: fakeSteady(false)},
	{name: "covered-az", changes: 2, moto: motoCovered, fake: fakeCovered},
	{name: "scale-out-cold", changes: 1, moto: motoScaleOut(false), fake: fakeScaleOut(false)},
	{name: "scale-out-warm", changes: 1, moto: motoScaleOut(true), fake: fakeScaleOut(true)},
	{name: "new-az", changes: 5, fake: fakeNewAZ}, // on moto: BenchmarkNewAZ (a fresh VPC per run, the settle delay)
	{name: "detach", changes: 1, moto: motoDetach, fake: fakeDetach},
}

// BenchmarkScenario runs each scenario's event through the instance-state
// handler, in process, against moto (real SDK clients) and against fakeaws
// (zero latency): calls per event, and p50/p95 handler latency.
func BenchmarkScenario(b *testing.B) {
	b.Run("moto", func(b *testing.B) {
		needMoto(b)
		for _, sc := range scenarios {
			if sc.moto == nil {
				continue
			}
			b.Run(sc.name, func(b *testing.B) {
				c := motoClients(b)
				measure(b, "moto/"+sc.name, sc, sc.moto(b, c), "")
			})
		}
	})
	b.Run("fakeaws", func(b *testing.B) {
		for _, sc := range scenarios {
			b.Run(sc.name, func(b *testing.B) {
				settle := ""
				if sc.name == "new-az" {
					settle = "1 ns (no wait)"
				}
				measure(b, "fakeaws/"+sc.name, sc, sc.fake(b), settle)
			})
		}
	})
}

// BenchmarkNewAZ: the first instance in an AZ the ALB does not cover, on
// moto, a fresh VPC and ALB per run (built untimed): with apply's default
// settle delay after SetSubnets (apply.DefaultSettle, what the functions
// run with) and without it, on a new container; and on a warm container,
// as in a scale-out: the same container registered an instance of the same
// group in a covered AZ just before (untimed).
func BenchmarkNewAZ(b *testing.B) {
	needMoto(b)
	for _, v := range []struct {
		name, key, label string
		settle           time.Duration
		warm             bool
	}{
		{"settle=default", "moto/new-az", apply1s(), 0, false},
		{"settle=1ns", "moto/new-az-nosettle", "1 ns (no wait)", fastSettle, false},
		{"warm/settle=default", "moto/new-az-warm", apply1s(), 0, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			c := motoClients(b)
			sc := scenario{name: "new-az", changes: 5}
			if v.warm {
				sc.changes = 4 // the group is open already
			}
			measure(b, v.key, sc, func() step {
				if !v.warm {
					s := newSite(b, map[string][]string{"c": {newAZCIDR}})
					in := s.instance(b, newAZCIDR, false)
					return step{h: handler(c.pipeline(observe.TargetTTL, v.settle), c.calls), event: sample(b, "instance-running.json", in.ID)}
				}
				s := newSite(b, nil)
				covered := s.instance(b, coveredCIDR, false)
				next := s.launch(b, newAZCIDR, covered.SecurityGroup, 1)[0]
				h := handler(c.pipeline(observe.TargetTTL, v.settle), c.calls)
				if r, err := h.Handle(ctx, sample(b, "instance-running.json", covered.ID)); err != nil || len(r.Changes) != 2 {
					b.Fatalf("warming the container: %v, changes %q", err, r.Changes)
				}
				return step{h: h, event: sample(b, "instance-running.json", next)}
			}, v.label)
		})
	}
}

// measure times one handler run per b.Loop iteration (preparing it untimed)
// and records calls and latency under key.
func measure(b *testing.B, key string, sc scenario, prepare func() step, settle string) {
	var durs []time.Duration
	var calls []int
	var last attach.Report
	var lastOps map[string]int
	for b.Loop() {
		b.StopTimer()
		st := prepare()
		b.StartTimer()
		start := time.Now()
		r, err := st.h.Handle(ctx, st.event)
		d := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("%s: %v\nreport: %+v", key, err, r)
		}
		if err := sc.check(r); err != nil {
			b.Fatalf("%s: %v\nreport: %+v", key, err, r)
		}
		ops := r.Calls
		if st.world != nil {
			ops = fakeOps(st.world.Calls())
		}
		durs, calls, last, lastOps = append(durs, d), append(calls, total(ops)), r, ops
		b.StartTimer()
	}
	lat := ms(durs)
	mean := 0.0
	for _, n := range calls {
		mean += float64(n)
	}
	mean /= float64(len(calls))
	p50, p95 := percentile(lat, 0.50), percentile(lat, 0.95)
	b.ReportMetric(mean, "calls/op")
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p95, "p95-ms")
	results.update(func(d *Data) {
		d.Scenarios[key] = &Scenario{Runs: len(durs), CallsMin: slices.Min(calls), CallsMax: slices.Max(calls), Ops: lastOps,
			P50: p50, P95: p95, Max: slices.Max(lat), Settle: settle, Changes: len(last.Changes), ContainerState: containerOf(sc.name)}
	})
}

func containerOf(name string) string {
	if strings.HasSuffix(name, "-warm") {
		return "warm"
	}
	return "cold"
}

// check verifies that a run did what the scenario says.
func (sc scenario) check(r attach.Report) error {
	switch {
	case sc.skipped && r.Skipped == "":
		return fmt.Errorf("want a skipped run")
	case !sc.skipped && r.Skipped != "":
		return fmt.Errorf("run skipped: %s", r.Skipped)
	case len(r.Changes) != sc.changes:
		return fmt.Errorf("%d changes %q, want %d", len(r.Changes), r.Changes, sc.changes)
	}
	return nil
}

func apply1s() string { return "1 s (apply.DefaultSettle)" }

// --- moto ---

func motoUntagged(b *testing.B, c *clients) func() step {
	s := newSite(b, nil)
	in := s.instance(b, newAZCIDR, true)
	st := step{h: handler(c.pipeline(observe.TargetTTL, 0), c.calls), event: sample(b, "instance-running.json", in.ID)}
	return func() step { return st }
}

// motoSteady: the instance is attached (its AZ covered, the rule present,
// registered and healthy); warm replays the event on one container whose
// target cache holds the target, cold on a new container each time.
func motoSteady(warm bool) func(b *testing.B, c *clients) func() step {
	return func(b *testing.B, c *clients) func() step {
		s := newSite(b, nil)
		in := s.instance(b, newAZCIDR, false)
		ev := sample(b, "instance-running.json", in.ID)
		h := handler(c.pipeline(observe.TargetTTL, 0), c.calls)
		for i := range 2 { // the first run attaches and forgets the target; the second caches it
			r, err := h.Handle(ctx, ev)
			if err != nil || (i == 1 && len(r.Changes) != 0) {
				b.Fatalf("warming up: %v, %+v", err, r)
			}
		}
		return func() step {
			if !warm {
				h = handler(c.pipeline(observe.TargetTTL, 0), c.calls)
			}
			return step{h: h, event: ev}
		}
	}
}

// motoCovered: each run a new instance, in a new security group, in a
// private subnet of an AZ the ALB covers (subnet there, rule missing, not
// registered), on a new container.
func motoCovered(b *testing.B, c *clients) func() step {
	s := newSite(b, nil)
	return func() step {
		in := s.instance(b, coveredCIDR, false)
		return step{h: handler(c.pipeline(observe.TargetTTL, 0), c.calls), event: sample(b, "instance-running.json", in.ID)}
	}
}

// motoScaleOut: each run a new instance in the security group of an
// instance attached before (open to the ALB already), in a private subnet of
// an AZ the ALB covers, not registered: the common launch of a scale-out.
// warm runs it on the container that attached the instance before it, cold
// on a new container.
func motoScaleOut(warm bool) func(b *testing.B, c *clients) func() step {
	return func(b *testing.B, c *clients) func() step {
		s := newSite(b, nil)
		first := s.instance(b, coveredCIDR, false)
		h := handler(c.pipeline(observe.TargetTTL, 0), c.calls)
		if r, err := h.Handle(ctx, sample(b, "instance-running.json", first.ID)); err != nil || len(r.Changes) != 2 {
			b.Fatalf("attaching the first instance: %v, changes %q", err, r.Changes)
		}
		return func() step {
			next := s.launch(b, coveredCIDR, first.SecurityGroup, 1)[0]
			if !warm {
				h = handler(c.pipeline(observe.TargetTTL, 0), c.calls)
			}
			return step{h: h, event: sample(b, "instance-running.json", next)}
		}
	}
}

// motoDetach: the attached instance's "stopped" event, on a new container;
// each run registers it again first.
func motoDetach(b *testing.B, c *clients) func() step {
	s := newSite(b, nil)
	in := s.instance(b, newAZCIDR, false)
	if _, err := handler(c.pipeline(0, fastSettle), c.calls).Handle(ctx, sample(b, "instance-running.json", in.ID)); err != nil {
		b.Fatal(err)
	}
	ev := sample(b, "instance-stopped.json", in.ID)
	return func() step {
		// Registered, then stopped as the event reports (AWS registers only
		// running instances; a stop event for a running one is stale, and
		// skipped).
		if _, err := s.ec2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{in.ID}}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(s.alb.TargetGroupARN),
			Targets: []elbv2types.TargetDescription{{Id: aws.String(in.ID)}}}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{in.ID}}); err != nil {
			b.Fatal(err)
		}
		return step{h: handler(c.pipeline(observe.TargetTTL, 0), c.calls), event: ev}
	}
}

// --- fakeaws (fakeaws.NewSite: ALB "web-alb" in us-east-1a and b, target
// group "web", private subnets in us-east-1a..e) ---

func fakeHandler(w *fakeaws.World, ttl time.Duration) *attach.Handler {
	return handler(fakePipeline(w, ttl, fastSettle), &awsclient.Counter{})
}

func fakeUntagged(b *testing.B) func() step {
	site := fakeaws.NewSite()
	w := site.W
	id := w.AddInstance(site.Private["us-east-1c"], fakeaws.Groups(site.AppGroup))
	st := step{h: fakeHandler(w, observe.TargetTTL), event: sample(b, "instance-running.json", id), world: w}
	return func() step { w.ResetCalls(); return st }
}

func fakeSteady(warm bool) func(b *testing.B) func() step {
	return func(b *testing.B) func() step {
		site := fakeaws.NewSite()
		w := site.W
		id := site.Instance("us-east-1c", "web")
		ev := sample(b, "instance-running.json", id)
		h := fakeHandler(w, observe.TargetTTL)
		if _, err := h.Handle(ctx, ev); err != nil {
			b.Fatal(err)
		}
		w.SetTargetHealth(site.TG, id, 80, "healthy", "") // the health checks passed
		if r, err := h.Handle(ctx, ev); err != nil || len(r.Changes) != 0 {
			b.Fatalf("warming up: %v, %+v", err, r)
		}
		return func() step {
			if !warm {
				h = fakeHandler(w, observe.TargetTTL)
			}
			w.ResetCalls()
			return step{h: h, event: ev, world: w}
		}
	}
}

func fakeCovered(b *testing.B) func() step {
	return func() step {
		site := fakeaws.NewSite()
		id := site.Instance("us-east-1a", "web")
		return step{h: fakeHandler(site.W, observe.TargetTTL), event: sample(b, "instance-running.json", id), world: site.W}
	}
}

func fakeScaleOut(warm bool) func(b *testing.B) func() step {
	return func(b *testing.B) func() step {
		site := fakeaws.NewSite()
		w := site.W
		h := fakeHandler(w, observe.TargetTTL)
		first := site.Instance("us-east-1a", "web")
		if r, err := h.Handle(ctx, sample(b, "instance-running.json", first)); err != nil || len(r.Changes) != 2 {
			b.Fatalf("attaching the first instance: %v, changes %q", err, r.Changes)
		}
		return func() step {
			next := site.Instance("us-east-1a", "web") // in the same, open, group
			if !warm {
				h = fakeHandler(w, observe.TargetTTL)
			}
			w.ResetCalls()
			return step{h: h, event: sample(b, "instance-running.json", next), world: w}
		}
	}
}

func fakeNewAZ(b *testing.B) func() step {
	return func() step {
		site := fakeaws.NewSite()
		id := site.Instance("us-east-1c", "web")
		return step{h: fakeHandler(site.W, observe.TargetTTL), event: sample(b, "instance-running.json", id), world: site.W}
	}
}

func fakeDetach(b *testing.B) func() step {
	site := fakeaws.NewSite()
	w := site.W
	id := site.Instance("us-east-1c", "web")
	if _, err := fakeHandler(w, 0).Handle(ctx, sample(b, "instance-running.json", id)); err != nil {
		b.Fatal(err)
	}
	ev := sample(b, "instance-stopped.json", id)
	return func() step {
		w.SetInstanceState(id, "running") // registered, then stopped as the event reports
		w.Register(site.TG, id, 0)
		w.SetInstanceState(id, "stopped")
		w.ResetCalls()
		return step{h: fakeHandler(w, observe.TargetTTL), event: ev, world: w}
	}
}
