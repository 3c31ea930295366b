package bench

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// results is what the benchmarks measured, for the report.
var results store

// store collects the benchmarks' numbers; it is safe for concurrent use and
// round-trips through JSON (BENCH_MERGE).
type store struct {
	mu sync.Mutex
	Data
}

// Data is the report's content.
type Data struct {
	Invocations []Invocation           `json:"invocations"`
	Scenarios   map[string]*Scenario   `json:"scenarios"` // "<backend>/<scenario>"
	Cold        map[string]*Cold       `json:"cold"`      // variant
	RSS         *RSS                   `json:"rss,omitempty"`
	Roots       map[string]*Roots      `json:"roots,omitempty"`       // "system", "bundle"
	RoundTrips  map[string]*RoundTrips `json:"round-trips,omitempty"` // scenario
	Bursts      map[string]*Burst      `json:"bursts"`                // N
	Sizes       map[string]map[string]int64
}

// Invocation is one go test run that contributed.
type Invocation struct {
	Bench, Benchtime string
	Benchmem         bool
	At               time.Time
}

// Scenario is one event scenario on one backend.
type Scenario struct {
	Runs           int            `json:"runs"`
	CallsMin       int            `json:"calls-min"`
	CallsMax       int            `json:"calls-max"`
	Ops            map[string]int `json:"ops"` // the last run's calls by operation
	P50, P95, Max  float64        // milliseconds
	Settle         string         `json:"settle,omitempty"`
	Changes        int            `json:"changes"` // of the last run
	ContainerState string         `json:"container"`
}

// Cold is one cold-start variant under the RIE.
type Cold struct {
	Runs               int
	FirstP50, FirstP95 float64 // ms from the invoke that starts the process to its response
	InitP50, InitP95   float64 // ms, the RIE's INIT REPORT (process start to runtime ready)
	Binary             string
	Size               int64
}

// RSS is the bootstrap's peak resident set during a new-AZ attach.
type RSS struct {
	Runs            int
	MedianMB, MaxMB float64
}

// Roots is the loading of the TLS roots in a fresh process, one way.
type Roots struct {
	Runs     int
	P50, P95 float64 // ms
}

// RoundTrips is a change scenario on fakeaws with a latency per call.
type RoundTrips struct {
	Runs, Calls int
	P50, RTT    float64 // ms
}

// Burst is one burst of concurrent launches.
type Burst struct {
	N              int
	Wall           float64 // seconds
	Calls          int
	Ops            map[string]int
	SubnetsCreated int
	CreateSubnet   int // attempts
	SetSubnets     int
	P50, P95, Max  float64 // per-event seconds
	Converged      bool
	Detail         string
}

func (s *store) init() {
	if s.Scenarios == nil {
		s.Scenarios = map[string]*Scenario{}
	}
	if s.Cold == nil {
		s.Cold = map[string]*Cold{}
	}
	if s.Bursts == nil {
		s.Bursts = map[string]*Burst{}
	}
	if s.Sizes == nil {
		s.Sizes = map[string]map[string]int64{}
	}
}

func (s *store) update(f func(d *Data)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	f(&s.Data)
}

func (s *store) setSize(binary, arch string, size int64) {
	s.update(func(d *Data) {
		if d.Sizes[binary] == nil {
			d.Sizes[binary] = map[string]int64{}
		}
		d.Sizes[binary][arch] = size
	})
}

func (s *store) addInvocation(bench, benchtime string, benchmem bool) {
	s.update(func(d *Data) {
		d.Invocations = append(d.Invocations, Invocation{Bench: bench, Benchtime: benchtime, Benchmem: benchmem, At: time.Now().UTC().Truncate(time.Second)})
	})
}

func (s *store) load(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return readJSON(path, &s.Data)
}

func (s *store) save(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := json.MarshalIndent(s.Data, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// percentile returns the nearest-rank q-quantile (0 < q <= 1) of samples.
func percentile(samples []float64, q float64) float64 {
	if len(samples) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(samples))
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// ms converts durations to milliseconds.
func ms(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}
