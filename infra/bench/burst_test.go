package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elbattach/elbattach/infra/faultproxy"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/observe"
)

// burstAZs are the AZs of a burst, none covered by the ALB, with the
// private subnet each one's instances launch in.
var burstAZs = []struct{ az, cidr string }{
	{"us-east-1c", "10.0.2.0/24"}, {"us-east-1d", "10.0.4.0/24"}, {"us-east-1e", "10.0.5.0/24"},
}

// BenchmarkBurst: N launch events at once (an Auto Scaling burst) over three
// AZs the ALB does not cover, each on its own container (pipeline) as Lambda
// runs them, in goroutines of this process against one moto (through a
// proxy that gives moto AWS's atomicity: atomicMoto), with
// the default settle delay. Each run ends with exactly one public subnet per AZ
// on the ALB and every instance registered, or the benchmark fails.
func BenchmarkBurst(b *testing.B) {
	needMoto(b)
	for _, n := range []int{50, 200} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var last *Burst
			endpoint := atomicMoto(b)
			for b.Loop() {
				b.StopTimer()
				private := map[string][]string{}
				for _, z := range burstAZs {
					private[z.az] = []string{z.cidr}
				}
				s := newSite(b, private)
				sg := s.newGroup(b)
				var ids []string
				for i, z := range burstAZs {
					k := n / len(burstAZs)
					if i < n%len(burstAZs) {
						k++
					}
					ids = append(ids, s.launch(b, z.cidr, sg, int32(k))...)
				}
				before := s.subnetsByAZ(b)
				c := clientsAt(b, endpoint)
				durs := make([]time.Duration, len(ids))
				errs := make([]error, len(ids))
				var wg sync.WaitGroup
				b.StartTimer()
				start := time.Now()
				for i, id := range ids {
					wg.Go(func() {
						p := c.pipeline(observe.TargetTTL, 0)
						t0 := time.Now()
						_, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running", Region: "us-east-1"})
						durs[i], errs[i] = time.Since(t0), err
					})
				}
				wg.Wait()
				wall := time.Since(start)
				b.StopTimer()
				ops := c.calls.Snapshot()
				last = &Burst{N: n, Wall: wall.Seconds(), Calls: total(ops), Ops: ops,
					CreateSubnet: ops["EC2.CreateSubnet"], SetSubnets: ops["Elastic Load Balancing v2.SetSubnets"]}
				lat := make([]float64, len(durs))
				for i, d := range durs {
					lat[i] = d.Seconds()
				}
				last.P50, last.P95, last.Max = percentile(lat, 0.5), percentile(lat, 0.95), slices.Max(lat)
				problems := converged(b, s, sg, ids, before, last)
				if err := errors.Join(errs...); err != nil {
					problems = append(problems, "runs failed: "+err.Error())
				}
				last.Converged, last.Detail = len(problems) == 0, strings.Join(problems, "; ")
				results.update(func(d *Data) { d.Bursts[fmt.Sprint(n)] = last })
				if !last.Converged {
					b.Fatalf("burst of %d did not converge: %s", n, last.Detail)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(last.Calls), "calls")
			b.ReportMetric(float64(last.Calls)/float64(n), "calls/event")
			b.ReportMetric(float64(last.CreateSubnet), "CreateSubnet")
			b.ReportMetric(float64(last.SetSubnets), "SetSubnets")
		})
	}
}

// converged checks the end state of a burst: per AZ exactly one subnet more
// than before, that subnet on the ALB, every instance registered, one rule
// into the instances' group; it sets SubnetsCreated.
func converged(b *testing.B, s *site, sg string, ids []string, before map[string][]string, r *Burst) []string {
	var problems []string
	after, lb, targets := s.subnetsByAZ(b), s.lbSubnets(b), s.targets(b)
	for _, subs := range after {
		r.SubnetsCreated += len(subs)
	}
	for _, subs := range before {
		r.SubnetsCreated -= len(subs)
	}
	for _, z := range burstAZs {
		var created []string
		for _, id := range after[z.az] {
			if !slices.Contains(before[z.az], id) {
				created = append(created, id)
			}
		}
		switch {
		case len(created) != 1:
			problems = append(problems, fmt.Sprintf("%s: %d public subnets created, want 1", z.az, len(created)))
		case lb[z.az] != created[0]:
			problems = append(problems, fmt.Sprintf("%s: the ALB has subnet %q, want %s", z.az, lb[z.az], created[0]))
		}
	}
	missing := 0
	for _, id := range ids {
		if !targets[id] {
			missing++
		}
	}
	if missing > 0 || len(targets) != len(ids) {
		problems = append(problems, fmt.Sprintf("%d of %d instances registered", len(ids)-missing, len(ids)))
	}
	if n := s.ingressRules(b, sg); n != 1 {
		problems = append(problems, fmt.Sprintf("%d rules into the instances' group, want 1", n))
	}
	return problems
}

// atomicMoto starts a faultproxy in front of moto, closed with b, that
// injects no fault and forwards the calls moto checks and then applies
// without a lock (faultproxy.CheckThenWrite) one at a time, and returns its
// URL. AWS is atomic there: of concurrent CreateSubnet calls for one block
// one wins and the others get InvalidSubnet.Conflict, and a rule is added
// once. Straight to moto, a burst can end with two subnets in one block or
// a rule twice, outcomes AWS never produces.
func atomicMoto(b *testing.B) string {
	b.Helper()
	p, err := faultproxy.Start(moto.Endpoint, faultproxy.Rates{Serial: faultproxy.CheckThenWrite}, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p.URL
}
