// Package faultproxy is a fault-injecting HTTP pass-through to put between
// the code under test (pointed at it through AWS_ENDPOINT_URL or
// aws.Config.BaseEndpoint) and moto_server. It answers a share of the
// requests with the service's own throttling or 5xx errors, in the wire
// format of the service (EC2 Query, Query XML or JSON) so that
// aws-sdk-go-v2 classifies and retries them as it would real ones; it drops
// connections before or after moto applied the request; and it adds
// latency. It also answers the Auto Scaling lifecycle actions moto 5.2.1
// lacks (CompleteLifecycleAction, RecordLifecycleActionHeartbeat) and
// records them, and forwards chosen operations one at a time
// (Rates.Serial), where moto is less atomic than AWS.
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DropMode tells when a dropped request is dropped.
type DropMode int

const (
	DropEither DropMode = iota // half before forwarding, half after (by the seeded draw)
	DropBefore                 // always before: moto never sees the request
	DropAfter                  // always after: moto applied it, the client never hears
)

// Rates are the faults to inject. Throttle, ServerError and Drop are
// fractions of the requests (0 to 1) taken in that order from one draw,
// so their sum should not exceed 1.
type Rates struct {
	Throttle    float64       // answered with the service's throttling error (HTTP 400)
	ServerError float64       // answered 500 InternalError/InternalFailure or 503 ServiceUnavailable (half each)
	Drop        float64       // connection closed without a response
	DropMode    DropMode      // when a drop happens, relative to forwarding
	Latency     time.Duration // added to every request (lifecycle actions too), plus up to 50% jitter

	// Only, when not empty, limits the faults above (not Latency) to the
	// operations it matches; Skip exempts the operations it matches. Each
	// entry is a service ("ec2"), a "Service.Action" ("ec2.CreateVpc") or a
	// path.Match glob of one ("elbv2.*", "*.Describe*"). Services: ec2,
	// elbv2, elb (Classic), autoscaling, events, sqs.
	Only []string
	Skip []string

	// Serial lists operations (same syntax as Only) that reach moto one at
	// a time. It injects no fault: it gives moto an atomicity AWS has.
	// moto_server answers requests on threads, and its CreateSubnet checks
	// the VPC's subnets for a CIDR conflict, then inserts, without a lock:
	// two concurrent CreateSubnet calls for one block can both succeed,
	// where AWS answers the second InvalidSubnet.Conflict.
	Serial []string
}

// CheckThenWrite are the calls elbattach makes that moto 5.2.1 checks and
// then applies without a lock, where AWS is atomic: CreateSubnet (the CIDR
// conflict) and AuthorizeSecurityGroupIngress/Egress (the duplicate rule).
// Concurrent tests put them in Rates.Serial.
var CheckThenWrite = []string{"ec2.CreateSubnet", "ec2.AuthorizeSecurityGroup*"}

// applies reports whether the fault rates apply to an operation.
func (r Rates) applies(op operation) bool {
	if len(r.Only) > 0 && !matches(op.Key(), op.Service, r.Only) {
		return false
	}
	return !matches(op.Key(), op.Service, r.Skip)
}

// Stats counts what the proxy did. Once every request is answered,
// Requests = Forwarded + Throttled + ServerErrors + DroppedBefore +
// Lifecycle + Failed (less any whose client left during the added
// latency); DroppedAfter requests are counted in Forwarded too.
type Stats struct {
	Requests      int
	Forwarded     int // sent to moto (DroppedAfter included)
	Throttled     int
	ServerErrors  int
	DroppedBefore int
	DroppedAfter  int
	Lifecycle     int // lifecycle actions answered by the proxy
	Failed        int // moto unreachable: answered 502

	Operations map[string]int // requests per "Service.Action"
	Faults     map[string]int // injected faults (throttles, 5xx, drops) per "Service.Action"
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	URL string // http://127.0.0.1:PORT

	target string
	srv    *http.Server
	client *http.Client

	mu        sync.Mutex
	serial    sync.Mutex // held while a Serial operation is at moto
	rates     Rates
	rng       *rand.Rand
	stats     Stats
	lifecycle []LifecycleCall
}

// Start starts a proxy on a free port of 127.0.0.1 forwarding to target
// (moto's endpoint, http://HOST:PORT). seed makes the fault draws
// reproducible for a given order of requests.
func Start(target string, rates Rates, seed int64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: bad target %q", target)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listening, %w", err)
	}
	p := &Proxy{
		URL:    "http://" + l.Addr().String(),
		target: strings.TrimRight(target, "/"),
		client: &http.Client{
			Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		rates: rates,
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		stats: Stats{Operations: map[string]int{}, Faults: map[string]int{}},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// Env returns base (e.g. localaws.Moto.Env()) with AWS_ENDPOINT_URL
// pointing at the proxy, for a child process such as a Lambda bootstrap.
func (p *Proxy) Env(base []string) []string {
	env := make([]string, 0, len(base)+1)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "AWS_ENDPOINT_URL=") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_ENDPOINT_URL="+p.URL)
}

// SetRates changes the rates for the requests that arrive from now on.
func (p *Proxy) SetRates(r Rates) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rates = r
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Operations = maps.Clone(s.Operations)
	s.Faults = maps.Clone(s.Faults)
	return s
}

// Close stops the proxy, closing its connections.
func (p *Proxy) Close() {
	_ = p.srv.Close()
	p.client.CloseIdleConnections()
}

// fault is the fate the proxy draws for one request.
type fault int

const (
	faultNone fault = iota
	faultThrottle
	faultServer500
	faultServer503
	faultDropBefore
	faultDropAfter
)

// decide counts the request and draws its latency and fault.
func (p *Proxy) decide(op operation) (time.Duration, fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rates
	p.stats.Requests++
	p.stats.Operations[op.Key()]++
	delay := r.Latency
	if delay > 0 {
		delay += time.Duration(p.rng.Float64() * 0.5 * float64(delay))
	}
	if isLifecycle(op) || !r.applies(op) {
		return delay, faultNone
	}
	x := p.rng.Float64()
	switch {
	case x < r.Throttle:
		return delay, faultThrottle
	case x < r.Throttle+r.ServerError:
		if p.rng.IntN(2) == 1 {
			return delay, faultServer503
		}
		return delay, faultServer500
	case x < r.Throttle+r.ServerError+r.Drop:
		if r.DropMode == DropAfter || (r.DropMode == DropEither && p.rng.IntN(2) == 1) {
			return delay, faultDropAfter
		}
		return delay, faultDropBefore
	}
	return delay, faultNone
}

// count records the outcome of a request; forwarded is false when moto
// could not be reached.
func (p *Proxy) count(op operation, f fault, forwarded bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &p.stats
	switch f {
	case faultThrottle:
		s.Throttled++
	case faultServer500, faultServer503:
		s.ServerErrors++
	case faultDropBefore:
		s.DroppedBefore++
	case faultDropAfter:
		if forwarded {
			s.DroppedAfter++
		}
	}
	if f != faultNone && (f != faultDropAfter || forwarded) {
		s.Faults[op.Key()]++
	}
	switch {
	case isLifecycle(op):
		s.Lifecycle++
	case f == faultNone || f == faultDropAfter:
		if forwarded {
			s.Forwarded++
		} else {
			s.Failed++
		}
	}
}

// ServeHTTP handles one request: classify, delay, then fault or forward.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "faultproxy: reading the request, "+err.Error(), http.StatusBadRequest)
		return
	}
	op := classify(r, body)
	delay, f := p.decide(op)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case isLifecycle(op):
		p.count(op, f, false)
		p.serveLifecycle(w, op)
	case f == faultThrottle:
		p.count(op, f, false)
		writeError(w, op, throttleError(op))
	case f == faultServer500 || f == faultServer503:
		p.count(op, f, false)
		writeError(w, op, serverError(op, f == faultServer503))
	case f == faultDropBefore:
		p.count(op, f, false)
		hangUp(w)
	default:
		p.forward(w, r, body, op, f)
	}
}

// forward sends the request to moto unchanged and relays the answer or,
// for faultDropAfter, hangs up once moto has answered.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body []byte, op operation, f fault) {
	p.mu.Lock()
	serial := matches(op.Key(), op.Service, p.rates.Serial)
	p.mu.Unlock()
	if serial {
		p.serial.Lock()
	}
	respBody, resp, err := p.roundTrip(r, body)
	if serial {
		p.serial.Unlock()
	}
	p.count(op, f, err == nil)
	if err != nil {
		http.Error(w, "faultproxy: forwarding to moto, "+err.Error(), http.StatusBadGateway)
		return
	}
	if f == faultDropAfter {
		hangUp(w)
		return
	}
	h := w.Header()
	maps.Copy(h, resp.Header)
	removeHopHeaders(h)
	h.Set("Content-Length", fmt.Sprint(len(respBody)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// roundTrip sends the request to moto (same method, path, headers, Host
// and body) and reads the whole answer.
func (p *Proxy) roundTrip(r *http.Request, body []byte) ([]byte, *http.Response, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header = r.Header.Clone()
	removeHopHeaders(req.Header)
	req.Host = r.Host
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return respBody, resp, nil
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // ends the connection all the same
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// hopHeaders are the hop-by-hop headers a proxy must not pass on.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders deletes the hop-by-hop headers, those that Connection
// names included.
func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}
