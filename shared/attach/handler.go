package attach

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/awsclient"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/outcome"
)

// Handler is a Lambda handler for one kind of EventBridge event (and manual
// events). Build it once per container with New; Lambda calls Handle.
type Handler struct {
	Kind     event.Kind
	Pipeline *Pipeline
	Calls    *awsclient.Counter
	// Events receives the outcome events (nil: none are sent).
	Events outcome.EventBridge
	// Metrics receives one EMF line per invocation (nil: none).
	Metrics io.Writer
	// Name is the function's name, the metrics' dimension.
	Name string
}

// Option adds to a handler what only some functions need.
type Option func(h *Handler, awsCfg aws.Config)

// New reads the configuration from the environment and builds the clients.
func New(ctx context.Context, kind event.Kind, opts ...Option) (*Handler, error) {
	cfg, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	calls := &awsclient.Counter{}
	awsCfg, err := awsclient.Load(ctx, calls)
	if err != nil {
		return nil, err
	}
	name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	if name == "" {
		name = fmt.Sprintf("elbattach-%d", kind)
	}
	p := NewPipeline(cfg, awsCfg, log)
	p.Observer.TTL = observe.TargetTTL
	h := &Handler{Kind: kind, Calls: calls, Events: eventbridge.NewFromConfig(awsCfg), Metrics: os.Stdout, Name: name, Pipeline: p}
	for _, o := range opts {
		o(h, awsCfg)
	}
	return h, nil
}

// NewPipeline builds a pipeline whose clients are made from awsCfg.
func NewPipeline(cfg config.Config, awsCfg aws.Config, log *slog.Logger) *Pipeline {
	ec2c, elbc, clbc := ec2.NewFromConfig(awsCfg), elbv2.NewFromConfig(awsCfg), elb.NewFromConfig(awsCfg)
	return &Pipeline{
		Config:   cfg,
		Region:   awsCfg.Region,
		Observer: &observe.Observer{EC2: ec2c, ELB: elbc, CLB: clbc, Listed: cfg.Allowed},
		Applier:  &apply.Applier{EC2: ec2c, ELB: elbc, CLB: clbc},
		Log:      log,
	}
}

// Handle decodes one event and runs it.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Report, error) {
	start, before := time.Now(), h.Calls.Snapshot()
	t, err := event.Parse(raw, h.Kind, h.Pipeline.Config.TagKey)
	if err != nil {
		h.Pipeline.Log.Error("bad event", "error", err.Error(), "event", truncate(raw, 2048))
		h.metrics(Report{}, err, time.Since(start))
		return Report{Changes: []string{}, Warnings: []string{}, Error: err.Error()}, err
	}
	r, err := h.Pipeline.Run(ctx, t)
	h.announce(ctx, t, r, err)
	h.metrics(r, err, time.Since(start))
	r.Calls = awsclient.Diff(before, h.Calls.Snapshot())
	h.Pipeline.LogReport(r, err)
	return r, err
}

// HandleSweep runs a reconcile: a scheduled event or {"action": "reconcile"}.
func (h *Handler) HandleSweep(ctx context.Context, raw json.RawMessage) (ReconcileReport, error) {
	start := time.Now()
	t, err := event.Parse(raw, event.Sweep, h.Pipeline.Config.TagKey)
	if err != nil {
		h.Pipeline.Log.Error("bad event", "error", err.Error(), "event", truncate(raw, 2048))
		h.metrics(Report{}, err, time.Since(start))
		return ReconcileReport{Changes: []string{}, Warnings: []string{}}, err
	}
	rr, err := h.Pipeline.Reconcile(ctx, h.Pipeline.Config.ReconcileMax, t.DryRun)
	h.metrics(Report{Changes: rr.Changes, DryRun: rr.DryRun}, err, time.Since(start))
	h.Pipeline.Log.Info("elbattach reconcile done", "instances", rr.Instances, "truncated", rr.Truncated,
		"changes", rr.Changes, "warnings", rr.Warnings, "failures", rr.Failures)
	return rr, err
}

// announce puts the outcome event of a run that changed something, failed,
// or completed a lifecycle action. Failing to announce does not fail the run.
func (h *Handler) announce(ctx context.Context, t event.Trigger, r Report, err error) {
	// A completed lifecycle action is news when elbattach attached or
	// detached for it; one completed for an instance it skipped (a warm-pool
	// launch, an untagged instance) is not.
	completed := r.Lifecycle != nil && r.Lifecycle.Result != NotActive && r.Skipped == ""
	if h.Events == nil || r.DryRun || (len(r.Changes) == 0 && err == nil && r.Error == "" && !completed) {
		return
	}
	detailType := outcome.Attached
	switch {
	case t.Action == event.Detach && (err != nil || r.Error != ""):
		detailType = outcome.DetachFailed
	case t.Action == event.Detach:
		detailType = outcome.Detached
	case err != nil || r.Error != "":
		detailType = outcome.AttachFailed
	}
	arn := ""
	if t.Region != "" && t.Account != "" {
		arn = fmt.Sprintf("arn:%s:ec2:%s:%s:instance/%s", partition(t.Region), t.Region, t.Account, t.InstanceID)
	}
	if perr := outcome.Put(ctx, h.Events, detailType, arn, r); perr != nil {
		h.Pipeline.Log.Warn("outcome event not sent", "instance", t.InstanceID, "error", perr.Error())
	}
}

// partition names the AWS partition of region, for ARNs.
func partition(region string) string {
	for _, p := range regionPartitions {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// regionPartitions are the partitions other than aws, by region prefix.
var regionPartitions = []struct{ prefix, partition string }{
	{"cn-", "aws-cn"}, {"us-gov-", "aws-us-gov"}, {"us-isob-", "aws-iso-b"}, {"us-iso-", "aws-iso"},
	{"eu-isoe-", "aws-iso-e"}, {"us-isof-", "aws-iso-f"}, {"eusc-", "aws-eusc"},
}

// metrics writes the run's EMF line.
func (h *Handler) metrics(r Report, err error, d time.Duration) {
	if h.Metrics == nil {
		return
	}
	c := outcome.CountChanges(r.Changes)
	if r.DryRun {
		c = outcome.Counts{}
	}
	if err != nil || r.Error != "" {
		c.Failures = 1
	}
	c.Duration = d
	if werr := outcome.WriteEMF(h.Metrics, h.Name, c, time.Now()); werr != nil {
		h.Pipeline.Log.Warn("metrics not written", "error", werr.Error())
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Main is a function's whole main: build the handler once per container, then
// serve events of kind. A configuration error fails every invocation with its
// reason, so that it reaches the retries and the failure queue instead of a
// crash loop.
func Main(kind event.Kind, opts ...Option) {
	h, err := New(context.Background(), kind, opts...)
	switch {
	case err != nil:
		slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error("elbattach cannot start", "error", err.Error())
		lambda.Start(func(context.Context) error { return err })
	case kind == event.Sweep:
		lambda.Start(h.HandleSweep)
	default:
		lambda.Start(h.Handle)
	}
}
