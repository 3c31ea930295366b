// Package event decodes what a handler receives — an EventBridge envelope or a
// manual console test event — into one typed Trigger, with specific errors for
// malformed and foreign input.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Action is what a trigger asks elbattach to do.
type Action string

// Actions.
const (
	Attach   Action = "attach"
	Detach   Action = "detach"
	Diagnose Action = "diagnose"
	// Reconcile sweeps every tagged instance and every managed target.
	Reconcile Action = "reconcile"
	// Ignore means the event is well-formed but asks for nothing (a state
	// elbattach does not act on, say). Trigger.Reason says why.
	Ignore Action = "ignore"
)

// Event sources and detail types elbattach understands.
const (
	SourceEC2         = "aws.ec2"
	SourceTag         = "aws.tag"
	SourceAutoScaling = "aws.autoscaling"
	SourceSchedule    = "aws.events"
	DetailScheduled   = "Scheduled Event"
	DetailStateChange = "EC2 Instance State-change Notification"
	DetailTagChange   = "Tag Change on Resource"
	DetailLaunch      = "EC2 Instance-launch Lifecycle Action"
	DetailTerminate   = "EC2 Instance-terminate Lifecycle Action"
)

// Errors returned for bad input; match them with errors.Is.
var (
	ErrMalformed = errors.New("malformed event")
	ErrForeign   = errors.New("foreign event")
)

// Trigger is one decoded request.
type Trigger struct {
	InstanceID string `json:"instance-id"`
	Action     Action `json:"action"`
	DryRun     bool   `json:"dry-run"`
	// Origin says where it came from: "manual", "aws.ec2 running", "aws.tag".
	Origin string `json:"origin"`
	// Reason explains an Ignore.
	Reason string `json:"reason,omitempty"`
	// Region and Account come from the instance ARN of an EventBridge event.
	Region  string `json:"region,omitempty"`
	Account string `json:"account,omitempty"`
	// Tags are the instance's tags as the tag event reported them (nil for
	// other events).
	Tags map[string]string `json:"-"`
	// Lifecycle is set for an Auto Scaling lifecycle action.
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
}

// Lifecycle identifies an Auto Scaling lifecycle action to complete.
type Lifecycle struct {
	Group      string `json:"group"`
	Hook       string `json:"hook"`
	Token      string `json:"token"`
	Transition string `json:"transition"`
}

// LifecycleDetail is the detail of an EC2 Instance-launch/-terminate
// Lifecycle Action event.
type LifecycleDetail struct {
	LifecycleActionToken string `json:"LifecycleActionToken"`
	AutoScalingGroupName string `json:"AutoScalingGroupName"`
	LifecycleHookName    string `json:"LifecycleHookName"`
	EC2InstanceID        string `json:"EC2InstanceId"`
	LifecycleTransition  string `json:"LifecycleTransition"`
	// Origin and Destination say where the instance comes from and goes to:
	// EC2, AutoScalingGroup or WarmPool.
	Origin      string `json:"Origin"`
	Destination string `json:"Destination"`
}

// HookPrefix starts the name of every lifecycle hook elbattach serves (the
// template's rule matches only those). An action of another hook belongs to
// someone else: elbattach neither acts on it nor completes it.
const HookPrefix = "elbattach"

// Envelope is the part of an EventBridge event elbattach reads.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// StateChangeDetail is the detail of an EC2 instance state-change event.
type StateChangeDetail struct {
	InstanceID string `json:"instance-id"`
	State      string `json:"state"`
}

// TagChangeDetail is the detail of a "Tag Change on Resource" event.
// Version has been seen as 3 and as 4.0, so it is kept raw and not read.
type TagChangeDetail struct {
	ChangedTagKeys []string          `json:"changed-tag-keys"`
	Service        string            `json:"service"`
	ResourceType   string            `json:"resource-type"`
	Version        json.RawMessage   `json:"version"`
	Tags           map[string]string `json:"tags"`
}

// Manual is the console test event: {"instance-id": "i-…", "action": "attach", "dry-run": true}.
type Manual struct {
	InstanceID string `json:"instance-id"`
	Action     Action `json:"action"`
	DryRun     bool   `json:"dry-run"`
}

var instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

// Kind selects which EventBridge events a handler accepts besides manual ones.
type Kind int

// Kinds of handler.
const (
	StateChange Kind = iota
	TagChange
	LifecycleAction
	Sweep
)

// Parse decodes raw for a handler of the given kind. tagKey is the instance
// tag that names the targets (it decides attach or detach on a tag change).
func Parse(raw []byte, kind Kind, tagKey string) (Trigger, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Trigger{}, fmt.Errorf("%w: want a JSON object", ErrMalformed)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Trigger{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	_, hasSource := probe["source"]
	_, hasDetailType := probe["detail-type"]
	if !hasSource && !hasDetailType {
		if kind == Sweep {
			return parseManualSweep(raw)
		}
		return parseManual(raw)
	}
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Trigger{}, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	switch {
	case kind == StateChange && env.Source == SourceEC2 && env.DetailType == DetailStateChange:
		return parseStateChange(env)
	case kind == TagChange && env.Source == SourceTag && env.DetailType == DetailTagChange:
		return parseTagChange(env, tagKey)
	case kind == LifecycleAction && env.Source == SourceAutoScaling && (env.DetailType == DetailLaunch || env.DetailType == DetailTerminate):
		return parseLifecycle(env)
	case kind == Sweep && env.Source == SourceSchedule && env.DetailType == DetailScheduled:
		return Trigger{Action: Reconcile, Origin: "schedule", Region: env.Region, Account: env.Account}, nil
	}
	want := fmt.Sprintf("source %q, detail-type %q", SourceEC2, DetailStateChange)
	switch kind {
	case TagChange:
		want = fmt.Sprintf("source %q, detail-type %q", SourceTag, DetailTagChange)
	case LifecycleAction:
		want = fmt.Sprintf("source %q, detail-type %q or %q", SourceAutoScaling, DetailLaunch, DetailTerminate)
	case Sweep:
		want = fmt.Sprintf("source %q, detail-type %q", SourceSchedule, DetailScheduled)
	}
	return Trigger{}, fmt.Errorf("%w: source %q, detail-type %q; this function takes %s or a manual event",
		ErrForeign, env.Source, env.DetailType, want)
}

func parseManual(raw []byte) (Trigger, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var m Manual
	if err := dec.Decode(&m); err != nil {
		return Trigger{}, fmt.Errorf("%w: manual event (want {\"instance-id\": \"i-…\", \"action\": \"attach|detach|diagnose\", \"dry-run\": false}): %v", ErrMalformed, err)
	}
	if err := checkInstanceID(m.InstanceID); err != nil {
		return Trigger{}, err
	}
	switch m.Action {
	case Attach, Detach, Diagnose:
	case "":
		return Trigger{}, fmt.Errorf("%w: manual event has no \"action\" (attach, detach or diagnose)", ErrMalformed)
	default:
		return Trigger{}, fmt.Errorf("%w: unknown action %q (want attach, detach or diagnose)", ErrMalformed, m.Action)
	}
	return Trigger{InstanceID: m.InstanceID, Action: m.Action, DryRun: m.DryRun, Origin: "manual"}, nil
}

// parseManualSweep decodes {"action": "reconcile", "dry-run": false}.
func parseManualSweep(raw []byte) (Trigger, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var m struct {
		Action Action `json:"action"`
		DryRun bool   `json:"dry-run"`
	}
	if err := dec.Decode(&m); err != nil || m.Action != Reconcile {
		return Trigger{}, fmt.Errorf("%w: want {\"action\": \"reconcile\", \"dry-run\": false}", ErrMalformed)
	}
	return Trigger{Action: Reconcile, DryRun: m.DryRun, Origin: "manual"}, nil
}

func parseStateChange(env Envelope) (Trigger, error) {
	var d StateChangeDetail
	if err := decodeDetail(env.Detail, &d); err != nil {
		return Trigger{}, fmt.Errorf("%w: state-change detail: %v", ErrMalformed, err)
	}
	if err := checkInstanceID(d.InstanceID); err != nil {
		return Trigger{}, err
	}
	t := Trigger{InstanceID: d.InstanceID, Origin: SourceEC2 + " " + d.State, Region: env.Region, Account: env.Account}
	if err := checkResources(env, d.InstanceID, &t); err != nil {
		return Trigger{}, err
	}
	switch d.State {
	case "running":
		t.Action = Attach
	case "stopping", "stopped", "shutting-down", "terminated":
		t.Action = Detach
	case "":
		return Trigger{}, fmt.Errorf("%w: state-change detail has no state", ErrMalformed)
	default:
		t.Action, t.Reason = Ignore, fmt.Sprintf("state %q needs no action", d.State)
	}
	return t, nil
}

func parseTagChange(env Envelope, tagKey string) (Trigger, error) {
	var d TagChangeDetail
	if err := decodeDetail(env.Detail, &d); err != nil {
		return Trigger{}, fmt.Errorf("%w: tag-change detail: %v", ErrMalformed, err)
	}
	if d.Service != "ec2" || d.ResourceType != "instance" {
		return Trigger{}, fmt.Errorf("%w: tag change on %s %s, want ec2 instance", ErrForeign, d.Service, d.ResourceType)
	}
	if len(env.Resources) != 1 {
		return Trigger{}, fmt.Errorf("%w: tag change names %d resources, want the one instance ARN", ErrMalformed, len(env.Resources))
	}
	id, t, err := instanceFromARN(env.Resources[0])
	if err != nil {
		return Trigger{}, err
	}
	t.InstanceID, t.Origin, t.Tags = id, SourceTag, d.Tags
	_, has := d.Tags[tagKey]
	switch {
	case has:
		t.Action = Attach
	case slices.Contains(d.ChangedTagKeys, tagKey):
		t.Action = Detach
	default:
		t.Action, t.Reason = Ignore, fmt.Sprintf("tag %s neither present nor changed", tagKey)
	}
	return t, nil
}

func parseLifecycle(env Envelope) (Trigger, error) {
	var d LifecycleDetail
	if err := decodeDetail(env.Detail, &d); err != nil {
		return Trigger{}, fmt.Errorf("%w: lifecycle detail: %v", ErrMalformed, err)
	}
	if err := checkInstanceID(d.EC2InstanceID); err != nil {
		return Trigger{}, err
	}
	if d.LifecycleActionToken == "" || d.AutoScalingGroupName == "" || d.LifecycleHookName == "" {
		return Trigger{}, fmt.Errorf("%w: lifecycle detail needs LifecycleActionToken, AutoScalingGroupName and LifecycleHookName", ErrMalformed)
	}
	t := Trigger{InstanceID: d.EC2InstanceID, Origin: SourceAutoScaling, Region: env.Region, Account: env.Account,
		Lifecycle: &Lifecycle{Group: d.AutoScalingGroupName, Hook: d.LifecycleHookName, Token: d.LifecycleActionToken, Transition: d.LifecycleTransition}}
	switch {
	case env.DetailType == DetailLaunch && d.LifecycleTransition == "autoscaling:EC2_INSTANCE_LAUNCHING":
		t.Action = Attach
	case env.DetailType == DetailTerminate && d.LifecycleTransition == "autoscaling:EC2_INSTANCE_TERMINATING":
		t.Action = Detach
	default:
		return Trigger{}, fmt.Errorf("%w: %s with transition %q", ErrMalformed, env.DetailType, d.LifecycleTransition)
	}
	switch {
	case !strings.HasPrefix(d.LifecycleHookName, HookPrefix):
		// Completing it would cut another hook's wait short.
		t.Action, t.Lifecycle = Ignore, nil
		t.Reason = fmt.Sprintf("lifecycle hook %q of %s is not elbattach's (its hooks' names start with %q); left to its owner",
			d.LifecycleHookName, d.AutoScalingGroupName, HookPrefix)
	case t.Action == Attach && d.Destination == "WarmPool":
		// The instance is prepared for the warm pool, where it waits stopped:
		// nothing to attach, and the action is completed.
		t.Action = Ignore
		t.Reason = fmt.Sprintf("instance %s enters the warm pool of %s, not service; nothing to attach", d.EC2InstanceID, d.AutoScalingGroupName)
	}
	return t, nil
}

// checkResources verifies that an event's resources, when present, name the
// same instance as its detail, and takes region and account from the ARN.
func checkResources(env Envelope, id string, t *Trigger) error {
	if len(env.Resources) == 0 {
		return nil
	}
	rid, fromARN, err := instanceFromARN(env.Resources[0])
	if err != nil {
		return err
	}
	if rid != id {
		return fmt.Errorf("%w: resources name %s but detail names %s", ErrMalformed, rid, id)
	}
	t.Region, t.Account = fromARN.Region, fromARN.Account
	return nil
}

func instanceFromARN(s string) (string, Trigger, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return "", Trigger{}, fmt.Errorf("%w: resource %q is not an ARN", ErrMalformed, s)
	}
	id, ok := strings.CutPrefix(a.Resource, "instance/")
	if a.Service != "ec2" || !ok {
		return "", Trigger{}, fmt.Errorf("%w: resource %q is not an EC2 instance ARN", ErrForeign, s)
	}
	if err := checkInstanceID(id); err != nil {
		return "", Trigger{}, err
	}
	return id, Trigger{Region: a.Region, Account: a.AccountID}, nil
}

func checkInstanceID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: no instance-id", ErrMalformed)
	}
	if !instanceIDPattern.MatchString(id) {
		return fmt.Errorf("%w: %q is not an EC2 instance ID (i- and 8 or 17 hex digits)", ErrMalformed, id)
	}
	return nil
}

// decodeDetail decodes an event's detail, refusing a missing or null one.
func decodeDetail(raw json.RawMessage, v any) error {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return errors.New("no detail")
	}
	return json.Unmarshal(raw, v)
}
