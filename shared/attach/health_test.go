package attach_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/awsclient"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/outcome"
	"github.com/elbattach/elbattach/shared/plan"
)

// fakeASG records lifecycle calls. As Auto Scaling does, it completes an
// action once: completing its token again is a ValidationError ("No active
// Lifecycle Action found with token ...").
type fakeASG struct {
	mu         sync.Mutex
	completed  []string // hook:result
	tokens     map[string]bool
	heartbeats int
}

func (f *fakeASG) Complete(_ context.Context, lc event.Lifecycle, _, result string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens[lc.Token] {
		return fmt.Errorf("completing lifecycle action %s of %s, %w", lc.Hook, lc.Group,
			fakeaws.Err("ValidationError", "No active Lifecycle Action found with token %s", lc.Token))
	}
	if f.tokens == nil {
		f.tokens = map[string]bool{}
	}
	f.tokens[lc.Token] = true
	f.completed = append(f.completed, lc.Hook+":"+result)
	return nil
}

func (f *fakeASG) Heartbeat(_ context.Context, lc event.Lifecycle, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens[lc.Token] {
		return fmt.Errorf("recording lifecycle heartbeat, %w",
			fakeaws.Err("ValidationError", "No active Lifecycle Action found with token %s", lc.Token))
	}
	f.heartbeats++
	return nil
}

func fastPipeline(w *fakeaws.World, asg *fakeASG) *attach.Pipeline {
	p := pipeline(w, time.Millisecond)
	p.PollEvery = time.Millisecond
	if asg != nil {
		p.Lifecycle = asg
	}
	return p
}

// TestNotInUseFails: a registered target that reads unused/Target.NotInUse is
// never reported as success; the error is retryable and names the target.
func TestNotInUseFails(t *testing.T) {
	s := fakeaws.NewSite()
	id := s.Instance(fakeaws.Zones[0], "web") // us-east-1a: covered
	s.W.AfterCall("elbv2.RegisterTargets", func() { s.W.SetTargetHealth(s.TG, id, 80, "unused", "Target.NotInUse") })
	_, err := fastPipeline(s.W, nil).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
	if !errors.Is(err, attach.ErrNotInUse) || attach.Permanent(err) || !strings.Contains(err.Error(), id+" in web") {
		t.Fatalf("err = %v, want a retryable ErrNotInUse naming the target", err)
	}
}

// TestDrainingIsRetryable: registering a target still draining is an error
// to retry, not a silent no-op.
func TestDrainingIsRetryable(t *testing.T) {
	s := fakeaws.NewSite()
	id := s.Instance(fakeaws.Zones[0], "web")
	s.W.Register(s.TG, id, 80)
	s.W.SetTargetHealth(s.TG, id, 80, "draining", "Target.DeregistrationInProgress")
	_, err := fastPipeline(s.W, nil).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
	if !errors.Is(err, plan.ErrDraining) || attach.Permanent(err) {
		t.Fatalf("err = %v, want retryable ErrDraining", err)
	}
}

// TestWaitHealthy: with WAIT_HEALTHY_SECONDS the run polls until healthy; an
// unhealthy target at the end is a warning that carries the diagnosis.
func TestWaitHealthy(t *testing.T) {
	t.Run("turns healthy", func(t *testing.T) {
		s := fakeaws.NewSite()
		id := s.Instance(fakeaws.Zones[0], "web")
		var reads atomic.Int32
		s.W.AfterCall("elbv2.RegisterTargets", func() { s.W.SetTargetHealth(s.TG, id, 80, "initial", "Elb.RegistrationInProgress") })
		s.W.AfterCall("elbv2.DescribeTargetHealth", func() {
			if reads.Add(1) == 4 {
				s.W.SetTargetHealth(s.TG, id, 80, "healthy", "")
			}
		})
		p := fastPipeline(s.W, nil)
		p.Config.WaitHealthy = 5 * time.Second
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
		if err != nil || strings.TrimSpace(r.Targets[0].Health) != "healthy" {
			t.Fatalf("health %q, err %v", r.Targets[0].Health, err)
		}
	})
	t.Run("stays unhealthy: warning and diagnosis", func(t *testing.T) {
		id, p := unhealthyAfterRegister()
		p.Config.WaitHealthy = 20 * time.Millisecond
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(r.Warnings, "\n"), "is unhealthy after 20ms: Target.Timeout") || len(r.Targets[0].Diagnosis) == 0 {
			t.Errorf("warnings %v, diagnosis %v", r.Warnings, r.Targets[0].Diagnosis)
		}
	})
	t.Run("the function's deadline ends the wait in time to report", func(t *testing.T) {
		id, p := unhealthyAfterRegister()
		p.Config.WaitHealthy = 14 * time.Minute
		short, cancel := context.WithTimeout(ctx, 10*time.Second+300*time.Millisecond) // drainMargin + 0.3 s
		defer cancel()
		start := time.Now()
		r, err := p.Run(short, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
		if err != nil || time.Since(start) > 5*time.Second {
			t.Fatalf("err %v after %s", err, time.Since(start))
		}
		if !strings.Contains(strings.Join(r.Warnings, "\n"), "is unhealthy after 0s (the function's timeout leaves no more of WAIT_HEALTHY_SECONDS' 14m0s)") {
			t.Errorf("warnings %v", r.Warnings)
		}
	})
}

// unhealthyAfterRegister is a site whose instance (returned) reads unhealthy
// once registered, and a pipeline on it.
func unhealthyAfterRegister() (string, *attach.Pipeline) {
	s := fakeaws.NewSite()
	id := s.Instance(fakeaws.Zones[0], "web")
	s.W.AfterCall("elbv2.RegisterTargets", func() { s.W.SetTargetHealth(s.TG, id, 80, "unhealthy", "Target.Timeout") })
	return id, fastPipeline(s.W, nil)
}

// TestClassicOutOfService: a Classic ELB's OutOfService after the wait is
// reported with its reason.
func TestClassicOutOfService(t *testing.T) {
	s := fakeaws.NewSite()
	clb := s.W.AddClassicLB("legacy", fakeaws.Subnets(s.Public[fakeaws.Zones[0]], s.Public[fakeaws.Zones[1]]), fakeaws.Groups(s.LBGroup),
		fakeaws.ClassicPort(80, 8080), fakeaws.HealthCheck("HTTP:8080/health"), fakeaws.Allowed())
	id := s.Instance(fakeaws.Zones[0], "classic/"+clb)
	s.W.OnCall("elb.DescribeInstanceHealth", func() {
		s.W.SetClassicHealth(clb, id, fakeaws.InstanceHealth{State: "OutOfService", Reason: "Instance", Description: "Instance has failed at least the UnhealthyThreshold number of health checks consecutively."})
	})
	p := fastPipeline(s.W, nil)
	p.Config.WaitHealthy = 10 * time.Millisecond
	r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "is OutOfService after 10ms: Instance Instance has failed") {
		t.Errorf("warnings = %v", r.Warnings)
	}
}

// TestLifecycle covers completion on the fake: launch completes CONTINUE
// after the attach; a transient failure completes nothing (the retry will);
// a refusal completes with LIFECYCLE_ON_FAILURE; terminate deregisters,
// waits out the drain with heartbeats, then completes.
func TestLifecycleCompletion(t *testing.T) {
	lc := func(hook, transition string) *event.Lifecycle {
		return &event.Lifecycle{Group: "asg", Hook: hook, Token: "tok", Transition: transition}
	}
	launch := lc("launch", "autoscaling:EC2_INSTANCE_LAUNCHING")
	t.Run("launch", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[2], "web")
		r, err := fastPipeline(s.W, asg).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.autoscaling", Lifecycle: launch})
		if err != nil || len(asg.completed) != 1 || asg.completed[0] != "launch:CONTINUE" || r.Lifecycle.Result != "CONTINUE" {
			t.Fatalf("err %v, completed %v", err, asg.completed)
		}
	})
	t.Run("a replayed launch finds its action completed", func(t *testing.T) {
		// A second delivery (or an SDK retry whose first attempt completed
		// it): no error to send the event round the retries into the
		// failure queue, a warning, and no outcome event.
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[2], "web")
		trig := event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.autoscaling", Lifecycle: launch}
		if _, err := fastPipeline(s.W, asg).Run(ctx, trig); err != nil {
			t.Fatal(err)
		}
		r, err := fastPipeline(s.W, asg).Run(ctx, trig)
		if err != nil || r.Error != "" || len(asg.completed) != 1 || r.Lifecycle == nil || r.Lifecycle.Result != attach.NotActive ||
			!slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "no longer active") }) {
			t.Fatalf("replay: err %v, report error %q, lifecycle %+v, warnings %q, completed %v", err, r.Error, r.Lifecycle, r.Warnings, asg.completed)
		}
	})
	t.Run("transient failure is not completed", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[2], "web")
		s.W.FailAlways("elbv2.RegisterTargets", fakeaws.Err("ServiceUnavailable", "try later"))
		_, err := fastPipeline(s.W, asg).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.autoscaling", Lifecycle: launch})
		if err == nil || len(asg.completed) != 0 {
			t.Fatalf("err %v, completed %v", err, asg.completed)
		}
	})
	t.Run("a pending instance is retried, not completed", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[2], "web", fakeaws.State("pending"))
		_, err := fastPipeline(s.W, asg).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.autoscaling", Lifecycle: launch})
		if !errors.Is(err, attach.ErrNotReady) || attach.Permanent(err) || len(asg.completed) != 0 {
			t.Fatalf("err %v, completed %v", err, asg.completed)
		}
	})
	t.Run("refusal completes with LIFECYCLE_ON_FAILURE", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[2], "no-such-group")
		p := fastPipeline(s.W, asg)
		p.Config.LifecycleOnFailure = "ABANDON"
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.autoscaling", Lifecycle: launch})
		if err != nil || r.Error == "" || len(asg.completed) != 1 || asg.completed[0] != "launch:ABANDON" {
			t.Fatalf("err %v, report error %q, completed %v", err, r.Error, asg.completed)
		}
	})
	t.Run("a transient failure beside a refusal is not completed", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[2], "web,no-such-group")
		s.W.FailAlways("elbv2.RegisterTargets", fakeaws.Err("ServiceUnavailable", "try later"))
		_, err := fastPipeline(s.W, asg).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.autoscaling", Lifecycle: launch})
		if err == nil || attach.Permanent(err) || len(asg.completed) != 0 {
			t.Fatalf("err %v (permanent %v), completed %v", err, attach.Permanent(err), asg.completed)
		}
	})
	t.Run("an instance not found yet is retried, not completed", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		_, err := fastPipeline(s.W, asg).Run(ctx, event.Trigger{InstanceID: "i-0000000000000dead", Action: event.Attach, Origin: "aws.autoscaling", Lifecycle: launch})
		if !errors.Is(err, observe.ErrInstanceNotFound) || len(asg.completed) != 0 {
			t.Fatalf("err %v, completed %v", err, asg.completed)
		}
	})
	t.Run("a warm-pool launch completes without attaching", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[2], "web")
		s.W.ResetCalls()
		r, err := fastPipeline(s.W, asg).Run(ctx, event.Trigger{InstanceID: id, Action: event.Ignore, Reason: "enters the warm pool",
			Origin: "aws.autoscaling", Lifecycle: launch})
		if err != nil || r.Skipped == "" || len(s.W.Calls()) != 0 || len(asg.completed) != 1 || asg.completed[0] != "launch:CONTINUE" {
			t.Fatalf("err %v, skipped %q, calls %v, completed %v", err, r.Skipped, s.W.Calls(), asg.completed)
		}
	})
	t.Run("a terminate that fails for good completes CONTINUE", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[0], "no-such-group")
		r, err := fastPipeline(s.W, asg).Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.autoscaling",
			Lifecycle: lc("terminate", "autoscaling:EC2_INSTANCE_TERMINATING")})
		if err != nil || r.Error == "" || len(asg.completed) != 1 || asg.completed[0] != "terminate:CONTINUE" {
			t.Fatalf("err %v, report error %q, completed %v", err, r.Error, asg.completed)
		}
	})
	t.Run("a retried terminate waits for the drain its first invocation began", func(t *testing.T) {
		// The first invocation deregisters, then fails on a transient
		// error while it waits; the retry has nothing left to deregister,
		// but completes only once the target has left draining.
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[0], "web")
		s.W.Register(s.TG, id, 80)
		s.W.AfterCall("elbv2.DeregisterTargets", func() {
			s.W.Register(s.TG, id, 80)
			s.W.SetTargetHealth(s.TG, id, 80, "draining", "Target.DeregistrationInProgress")
			s.W.FailNext("elbv2.DescribeTargetHealth", fakeaws.Err("ServiceUnavailable", "try later"))
		})
		trig := event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.autoscaling", Lifecycle: lc("terminate", "autoscaling:EC2_INSTANCE_TERMINATING")}
		if _, err := fastPipeline(s.W, asg).Run(ctx, trig); err == nil || len(asg.completed) != 0 {
			t.Fatalf("first invocation: err %v, completed %v; want a transient failure, nothing completed", err, asg.completed)
		}
		var reads atomic.Int32
		s.W.AfterCall("elbv2.DescribeTargetHealth", func() {
			if reads.Add(1) == 4 {
				s.W.SetTargetHealth(s.TG, id, 80, "unused", "Target.NotRegistered")
			}
		})
		r, err := fastPipeline(s.W, asg).Run(ctx, trig)
		if err != nil || len(asg.completed) != 1 || reads.Load() < 4 || r.Targets[0].Drain == "" {
			t.Fatalf("retry: err %v, completed %v after %d health reads, drain %q; want it to wait out the drain", err, asg.completed, reads.Load(), r.Targets[0].Drain)
		}
	})
	t.Run("a replayed terminate whose action is no longer active stops waiting", func(t *testing.T) {
		// The action was completed (or timed out) while the target still
		// drains: the heartbeat says so, the run stops waiting, and
		// completing finds it not active. No failure to retry.
		s, asg := fakeaws.NewSite(), &fakeASG{tokens: map[string]bool{"tok": true}}
		id := s.Instance(fakeaws.Zones[0], "web")
		s.W.Register(s.TG, id, 80)
		s.W.SetTargetHealth(s.TG, id, 80, "draining", "Target.DeregistrationInProgress")
		p := fastPipeline(s.W, asg)
		p.Config.Heartbeat = time.Nanosecond
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.autoscaling",
			Lifecycle: lc("terminate", "autoscaling:EC2_INSTANCE_TERMINATING")})
		if err != nil || r.Lifecycle == nil || r.Lifecycle.Result != attach.NotActive ||
			!slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "stopped waiting") }) {
			t.Fatalf("err %v, lifecycle %+v, warnings %q", err, r.Lifecycle, r.Warnings)
		}
	})
	t.Run("a replay with two targets draining finds the action gone at once", func(t *testing.T) {
		// The heartbeat interval is long: each target's first wait records
		// one at once, so neither waits an interval to learn the action is
		// gone (a reviewer's note: one interval per target).
		s, asg := fakeaws.NewSite(), &fakeASG{tokens: map[string]bool{"tok": true}}
		api := s.W.AddTargetGroup(s.VPC, "api", 8080, fakeaws.Allowed())
		id := s.Instance(fakeaws.Zones[0], "web,api")
		for _, tg := range []struct {
			arn  string
			port int32
		}{{s.TG, 80}, {api, 8080}} {
			s.W.Register(tg.arn, id, tg.port)
			s.W.SetTargetHealth(tg.arn, id, tg.port, "draining", "Target.DeregistrationInProgress")
		}
		p := fastPipeline(s.W, asg)
		p.Config.Heartbeat = time.Hour
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // the waits end 10 s before it
		defer cancel()
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.autoscaling",
			Lifecycle: lc("terminate", "autoscaling:EC2_INSTANCE_TERMINATING")})
		stopped := 0
		for _, w := range r.Warnings {
			if strings.Contains(w, "stopped waiting") {
				stopped++
			}
		}
		if err != nil || stopped != 2 || r.Lifecycle == nil || r.Lifecycle.Result != attach.NotActive {
			t.Fatalf("err %v, lifecycle %+v, warnings %q: want both waits stopped at once", err, r.Lifecycle, r.Warnings)
		}
	})
	t.Run("terminate drains with heartbeats", func(t *testing.T) {
		s, asg := fakeaws.NewSite(), &fakeASG{}
		id := s.Instance(fakeaws.Zones[0], "web")
		s.W.Register(s.TG, id, 80)
		var reads atomic.Int32
		s.W.AfterCall("elbv2.DeregisterTargets", func() {
			s.W.Register(s.TG, id, 80)
			s.W.SetTargetHealth(s.TG, id, 80, "draining", "Target.DeregistrationInProgress")
		})
		s.W.AfterCall("elbv2.DescribeTargetHealth", func() {
			if reads.Add(1) == 5 {
				s.W.SetTargetHealth(s.TG, id, 80, "unused", "Target.NotRegistered")
			}
		})
		p := fastPipeline(s.W, asg)
		p.Config.Heartbeat = time.Nanosecond
		r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Detach, Origin: "aws.autoscaling",
			Lifecycle: lc("terminate", "autoscaling:EC2_INSTANCE_TERMINATING")})
		if err != nil || r.Targets[0].Drain == "" || asg.heartbeats == 0 || len(asg.completed) != 1 || asg.completed[0] != "terminate:CONTINUE" {
			t.Fatalf("err %v, drain %q, heartbeats %d, completed %v", err, r.Targets[0].Drain, asg.heartbeats, asg.completed)
		}
	})
}

// TestUnroutedFails: a registered target of a group no listener forwards to
// reads unused / Target.NotInUse, and the run fails, naming that cause, which
// it reads afresh from the listeners:
//   - a listener is changed right after the target group's read; in a new AZ
//     the run's own listener read shows it (the listeners decide whether it
//     skips the health read), so it reads health though the AZ was read back;
//   - the same in a covered AZ;
//   - a replay on a warm container whose cached listener facts still say a
//     listener forwards: it changes nothing, so it read no listeners, and
//     the cached facts are 30 s old at most, not the cause.
func TestUnroutedFails(t *testing.T) {
	for _, tc := range []struct {
		name, az    string
		replay      bool
		healthReads int // registration before (covered AZ only), health after
	}{
		{"new AZ", "us-east-1c", false, 1},
		{"covered AZ", "us-east-1a", false, 2},
		{"replay, warm container", "us-east-1a", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeaws.NewSite()
			id := s.Instance(tc.az, "web")
			p := fastPipeline(s.W, nil)
			if tc.replay {
				p.Observer.TTL = observe.TargetTTL
				if r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"}); err != nil {
					t.Fatalf("attach: %v, %+v", err, r)
				}
				s.W.SetListenerDefault(s.LB, 80, "")
				s.W.SetTargetHealth(s.TG, id, 80, "unused", "Target.NotInUse")
				s.W.ResetCalls()
			} else {
				var once sync.Once
				s.W.AfterCall("elbv2.DescribeTargetGroups", func() { once.Do(func() { s.W.SetListenerDefault(s.LB, 80, "") }) })
			}
			r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
			if !errors.Is(err, attach.ErrNotInUse) || !strings.Contains(err.Error(), "no listener or rule forwards to the target group") {
				t.Fatalf("err = %v, want ErrNotInUse naming the unrouted group; report %+v, calls %v", err, r, s.W.Calls())
			}
			listenerReads := 2 // the checks', and the cause's
			if tc.replay {
				listenerReads = 1
			}
			if h, l := s.W.Count("elbv2.DescribeTargetHealth"), s.W.Count("elbv2.DescribeListeners"); h != tc.healthReads || l != listenerReads || s.W.LBZones(s.LB)[tc.az] == "" {
				t.Errorf("health reads %d (want %d), listener reads %d (want %d), zones %v", h, tc.healthReads, l, listenerReads, s.W.LBZones(s.LB))
			}
		})
	}
}

// TestNotInUseLostUpdate: waiting for healthy after adding an AZ, the target
// reads unused / Target.NotInUse because a concurrent SetSubnets dropped the
// AZ after the read-back; the run goes round again and adds it back, also
// when the listener read that names the cause fails (a reviewer's case: the
// failure is added to the NotInUse, not put in its place).
func TestNotInUseLostUpdate(t *testing.T) {
	for _, failListeners := range []bool{false, true} {
		t.Run(fmt.Sprintf("listener read fails %v", failListeners), func(t *testing.T) {
			s := fakeaws.NewSite()
			id := s.Instance("us-east-1c", "web")
			p := fastPipeline(s.W, nil)
			p.Config.WaitHealthy = 20 * time.Millisecond
			var once sync.Once
			s.W.AfterCall("elbv2.RegisterTargets", func() {
				once.Do(func() {
					s.W.SetLBSubnets(s.LB, s.Public["us-east-1a"], s.Public["us-east-1b"])
					if failListeners {
						s.W.FailNext("elbv2.DescribeListeners", errors.New("Throttling: rate exceeded"))
					}
				})
			})
			r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "manual"})
			if err != nil || s.W.LBZones(s.LB)["us-east-1c"] == "" || s.W.Count("elbv2.SetSubnets") != 2 {
				t.Errorf("err %v, zones %v, SetSubnets %d: want us-east-1c added back in a second round; report %+v",
					err, s.W.LBZones(s.LB), s.W.Count("elbv2.SetSubnets"), r)
			}
		})
	}
}

// recordedEvents counts the outcome events put.
type recordedEvents struct {
	mu  sync.Mutex
	put []string // detail-types
}

func (e *recordedEvents) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, en := range in.Entries {
		e.put = append(e.put, aws.ToString(en.DetailType))
	}
	return &eventbridge.PutEventsOutput{}, nil
}

// TestLifecycleReplayOutcome: the handler puts one outcome event for a launch
// action it completed, and none for a replay that found it no longer active
// and changed nothing.
func TestLifecycleReplayOutcome(t *testing.T) {
	s, asg := fakeaws.NewSite(), &fakeASG{}
	id := s.Instance(fakeaws.Zones[2], "web")
	events := &recordedEvents{}
	h := &attach.Handler{Kind: event.LifecycleAction, Pipeline: fastPipeline(s.W, asg), Calls: &awsclient.Counter{}, Events: events}
	raw := []byte(`{"version": "0", "id": "1", "detail-type": "EC2 Instance-launch Lifecycle Action", "source": "aws.autoscaling",
		"account": "123456789012", "region": "us-east-1", "resources": [],
		"detail": {"LifecycleActionToken": "tok-1", "AutoScalingGroupName": "web-asg", "LifecycleHookName": "elbattach-launch",
			"EC2InstanceId": "` + id + `", "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"}}`)
	for delivery := 1; delivery <= 2; delivery++ {
		if r, err := h.Handle(ctx, raw); err != nil {
			t.Fatalf("delivery %d: %v\nreport: %+v", delivery, err, r)
		}
	}
	if !slices.Equal(events.put, []string{outcome.Attached}) || !slices.Equal(asg.completed, []string{"elbattach-launch:CONTINUE"}) {
		t.Errorf("outcome events %q, completed %q: want one of each", events.put, asg.completed)
	}
}

// TestSweepPutsNoOutcomeEvents: a reconcile run reports in its response and
// log only, even when it attaches an instance: the template grants the
// reconcile function no events:PutEvents (TestIAMPerFunction relies on it).
func TestSweepPutsNoOutcomeEvents(t *testing.T) {
	s := fakeaws.NewSite()
	s.Instance(fakeaws.Zones[2], "web")
	events := &recordedEvents{}
	h := &attach.Handler{Kind: event.Sweep, Pipeline: fastPipeline(s.W, nil), Calls: &awsclient.Counter{}, Events: events}
	rr, err := h.HandleSweep(ctx, []byte(`{"action": "reconcile"}`))
	if err != nil || len(rr.Changes) == 0 || len(events.put) != 0 {
		t.Errorf("reconcile: %v, changes %q, outcome events %q; want changes and no event", err, rr.Changes, events.put)
	}
}

// TestSweepBadEventReported: a reconcile event that cannot be parsed fails,
// and still writes its metrics line (a failure) and a log line, as every
// other invocation does.
func TestSweepBadEventReported(t *testing.T) {
	s := fakeaws.NewSite()
	var metrics, logs strings.Builder
	p := fastPipeline(s.W, nil)
	p.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	h := &attach.Handler{Kind: event.Sweep, Pipeline: p, Calls: &awsclient.Counter{}, Metrics: &metrics, Name: "reconcile"}
	if _, err := h.HandleSweep(ctx, []byte(`{"action": "attach"}`)); err == nil {
		t.Fatal("a manual attach event to the reconcile function: no error")
	}
	if !strings.Contains(metrics.String(), `"Failures":1`) || !strings.Contains(logs.String(), `"msg":"bad event"`) {
		t.Errorf("metrics %q, log %q: want a failure counted and the event logged", metrics.String(), logs.String())
	}
}

// TestReportBrief: the brief of a report, for an outcome event the whole one
// would make too large, keeps what happened and to which instance, and drops
// the per-target detail.
func TestReportBrief(t *testing.T) {
	r := attach.Report{Instance: "i-1", Action: event.Attach, Origin: "manual", Changes: []string{"+ register i-1"}, Warnings: []string{},
		Error: "web: boom", Targets: []attach.TargetReport{{Target: "web", Changes: []string{}}}}
	b, err := json.Marshal(r.Brief())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"instance":"i-1"`, `"action":"attach"`, `"error":"web: boom"`, `"changes":["+ register i-1"]`, `"truncated":`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("brief %s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), `"targets"`) {
		t.Errorf("brief %s keeps the targets", b)
	}
}

// TestLifecycleSkippedNoOutcome: a lifecycle action completed for an
// instance elbattach skipped (a warm-pool launch, an untagged instance) puts
// no outcome event: "Instance Attached" would tell other automation an
// attach happened (a reviewer's case).
func TestLifecycleSkippedNoOutcome(t *testing.T) {
	s, asg := fakeaws.NewSite(), &fakeASG{}
	untagged := s.W.AddInstance(s.Private[fakeaws.Zones[2]])
	events := &recordedEvents{}
	h := &attach.Handler{Kind: event.LifecycleAction, Pipeline: fastPipeline(s.W, asg), Calls: &awsclient.Counter{}, Events: events}
	for i, extra := range []string{``, `, "Origin": "EC2", "Destination": "WarmPool"`} {
		raw := []byte(fmt.Sprintf(`{"version": "0", "id": "1", "detail-type": "EC2 Instance-launch Lifecycle Action", "source": "aws.autoscaling",
			"account": "123456789012", "region": "us-east-1", "resources": [],
			"detail": {"LifecycleActionToken": "tok-%d", "AutoScalingGroupName": "web-asg", "LifecycleHookName": "elbattach-launch",
				"EC2InstanceId": %q, "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"%s}}`, i, untagged, extra))
		if r, err := h.Handle(ctx, raw); err != nil || r.Skipped == "" {
			t.Fatalf("event %d: %v, skipped %q", i, err, r.Skipped)
		}
	}
	if len(asg.completed) != 2 || len(events.put) != 0 {
		t.Errorf("completed %q, outcome events %q: want both completed and no event", asg.completed, events.put)
	}
}

// TestRoundAgainKeepsWarnings: a run that goes round again after a NotInUse
// (a lost update of its AZ) keeps the warnings of the round that changed
// things, though the next round, with nothing left to do, checks nothing (a
// reviewer's case: the report listed round one's changes without its
// warnings).
func TestRoundAgainKeepsWarnings(t *testing.T) {
	s := fakeaws.NewSite()
	w := s.W
	sub := w.AddSubnet(s.VPC, "us-east-1c", "10.0.20.0/24") // the main route table: no way out, a NAT warning
	id := w.AddInstance(sub, fakeaws.Groups(s.AppGroup), fakeaws.Tag("elbattach:target", "web"))
	var registered sync.Once
	w.AfterCall("elbv2.RegisterTargets", func() {
		registered.Do(func() { w.SetTargetHealth(s.TG, id, 80, "unused", "Target.NotInUse") })
	})
	var listenerReads atomic.Int32
	w.AfterCall("elbv2.DescribeListeners", func() {
		if listenerReads.Add(1) == 2 { // verify's read to name the cause: by then the AZ is back
			w.SetTargetHealth(s.TG, id, 80, "healthy", "")
		}
	})
	p := fastPipeline(w, nil)
	p.Config.WaitHealthy = 10 * time.Millisecond // verify reads the health after adding the AZ
	r, err := p.Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
	if err != nil || !slices.Contains(r.Changes, "+ register "+id+" on port 80 in "+s.TG) ||
		!slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "no 0.0.0.0/0 route to a NAT gateway") }) {
		t.Errorf("err %v, changes %q, warnings %q: want the first round's NAT warning kept", err, r.Changes, r.Warnings)
	}
}
