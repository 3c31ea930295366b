package bench

import (
	"slices"
	"testing"
	"time"
)

// rtt is the latency BenchmarkRoundTrips gives every fakeaws call: about an
// AWS API round trip from Lambda in the same region.
const rtt = 20 * time.Millisecond

// BenchmarkRoundTrips: the change scenarios on fakeaws with rtt per call
// (settle 1 ns), so that the wall time counts the round trips a run waits
// for: observe makes its independent reads at once, so these are fewer than
// its calls. moto cannot show it: it answers one request at a time.
func BenchmarkRoundTrips(b *testing.B) {
	for _, sc := range []struct {
		name  string
		setup func(*testing.B) func() step
	}{{"covered-az", fakeCovered}, {"new-az", fakeNewAZ}} {
		b.Run(sc.name, func(b *testing.B) {
			next := sc.setup(b)
			var lat []float64
			calls := 0
			for b.Loop() {
				b.StopTimer()
				st := next()
				st.world.OnCall("*", func() { time.Sleep(rtt) })
				st.world.ResetCalls()
				b.StartTimer()
				start := time.Now()
				if _, err := st.h.Handle(ctx, st.event); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, float64(time.Since(start))/float64(time.Millisecond))
				b.StopTimer()
				calls = len(st.world.Calls())
				b.StartTimer()
			}
			slices.Sort(lat)
			r := &RoundTrips{Runs: len(lat), Calls: calls, P50: percentile(lat, 0.5), RTT: float64(rtt) / float64(time.Millisecond)}
			b.ReportMetric(r.P50, "p50-ms")
			b.ReportMetric(r.P50/r.RTT, "round-trips")
			results.update(func(d *Data) {
				if d.RoundTrips == nil {
					d.RoundTrips = map[string]*RoundTrips{}
				}
				d.RoundTrips[sc.name] = r
			})
		})
	}
}
