package attach

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/awsclient"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/observe"
)

// Handler is a Lambda handler for one kind of EventBridge event (and manual
// events). Build it once per container with New; Lambda calls Handle.
type Handler struct {
	Kind     event.Kind
	Pipeline *Pipeline
	Calls    *awsclient.Counter
}

// New reads the configuration from the environment and builds the clients.
func New(ctx context.Context, kind event.Kind) (*Handler, error) {
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
	ec2c, elbc, clbc := ec2.NewFromConfig(awsCfg), elbv2.NewFromConfig(awsCfg), elb.NewFromConfig(awsCfg)
	return &Handler{Kind: kind, Calls: calls, Pipeline: &Pipeline{
		Config:      cfg,
		Region:      awsCfg.Region,
		Observer:    &observe.Observer{EC2: ec2c, ELB: elbc, CLB: clbc, TTL: observe.TargetTTL},
		Applier:     &apply.Applier{EC2: ec2c, ELB: elbc, CLB: clbc},
		AutoScaling: autoscaling.NewFromConfig(awsCfg),
		Log:         log,
	}}, nil
}

// Handle decodes one event and runs it.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Report, error) {
	before := h.Calls.Snapshot()
	t, err := event.Parse(raw, h.Kind, h.Pipeline.Config.TagKey)
	if err != nil {
		h.Pipeline.Log.Error("bad event", "error", err.Error(), "event", truncate(raw, 2048))
		return Report{Changes: []string{}, Warnings: []string{}, Error: err.Error()}, err
	}
	r, err := h.Pipeline.Run(ctx, t)
	r.Calls = awsclient.Diff(before, h.Calls.Snapshot())
	h.Pipeline.LogReport(r, err)
	return r, err
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
