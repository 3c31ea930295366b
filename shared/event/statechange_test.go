package event_test

import (
	"encoding/json"
	"testing"

	"github.com/elbattach/elbattach/shared/event"
)

func stateTrigger(action event.Action, state, reason string) event.Trigger {
	return event.Trigger{InstanceID: id, Action: action, Origin: "aws.ec2 " + state, Reason: reason,
		Region: region, Account: account}
}

func TestParseStateChange(t *testing.T) {
	const short = "i-01234567"
	otherARN := instanceARN("eu-west-1", "210987654321", id)
	runParseCases(t, []parseCase{
		// States.
		{name: "running attaches", raw: stateEvent("running"), want: stateTrigger(event.Attach, "running", "")},
		{name: "pending is ignored", raw: stateEvent("pending"),
			want: stateTrigger(event.Ignore, "pending", `state "pending" needs no action`)},
		{name: "stopping detaches", raw: stateEvent("stopping"), want: stateTrigger(event.Detach, "stopping", "")},
		{name: "stopped detaches", raw: stateEvent("stopped"), want: stateTrigger(event.Detach, "stopped", "")},
		{name: "shutting-down detaches", raw: stateEvent("shutting-down"),
			want: stateTrigger(event.Detach, "shutting-down", "")},
		{name: "terminated detaches", raw: stateEvent("terminated"), want: stateTrigger(event.Detach, "terminated", "")},
		{name: "unknown state is ignored", raw: stateEvent("rebooting"),
			want: stateTrigger(event.Ignore, "rebooting", `state "rebooting" needs no action`)},
		{name: "state is case sensitive", raw: stateEvent("Running"),
			want: stateTrigger(event.Ignore, "Running", `state "Running" needs no action`)},
		{name: "empty state", raw: stateEvent(""),
			wantErr: event.ErrMalformed, wantMsg: "state-change detail has no state"},
		{name: "missing state", raw: stateEvent("", setDetail("state", absent{})),
			wantErr: event.ErrMalformed, wantMsg: "state-change detail has no state"},
		{name: "state not a string", raw: stateEvent("", setDetail("state", 16)),
			wantErr: event.ErrMalformed, wantMsg: "state-change detail: json: cannot unmarshal number"},
		{name: "8-digit instance id", raw: stateEvent("running", setDetail("instance-id", short),
			set("resources", []string{instanceARN(region, account, short)})),
			want: event.Trigger{InstanceID: short, Action: event.Attach, Origin: "aws.ec2 running",
				Region: region, Account: account}},

		// Region and account.
		{name: "region and account come from the ARN",
			raw: stateEvent("running", set("resources", []string{otherARN})),
			want: event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running",
				Region: "eu-west-1", Account: "210987654321"}},
		{name: "without resources, region and account come from the envelope",
			raw: stateEvent("running", set("resources", []string{}), set("region", "ap-south-1"), set("account", "999999999999")),
			want: event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running",
				Region: "ap-south-1", Account: "999999999999"}},
		{name: "resources absent", raw: stateEvent("stopped", set("resources", absent{})),
			want: stateTrigger(event.Detach, "stopped", "")},
		{name: "only the first resource is read",
			raw: stateEvent("running", set("resources", []string{instanceARN(region, account, id),
				"arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0"})),
			want: stateTrigger(event.Attach, "running", "")},

		// Resources that do not agree with the detail.
		{name: "resources name another instance",
			raw:     stateEvent("running", set("resources", []string{instanceARN(region, account, "i-0fedcba9876543210")})),
			wantErr: event.ErrMalformed, wantMsg: "resources name i-0fedcba9876543210 but detail names " + id},
		{name: "resource is not an ARN", raw: stateEvent("running", set("resources", []string{id})),
			wantErr: event.ErrMalformed, wantMsg: `resource "` + id + `" is not an ARN`},
		{name: "resource is an EC2 volume",
			raw:     stateEvent("running", set("resources", []string{"arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0"})),
			wantErr: event.ErrForeign, wantMsg: "is not an EC2 instance ARN"},
		{name: "resource is an S3 bucket", raw: stateEvent("running", set("resources", []string{"arn:aws:s3:::my-bucket"})),
			wantErr: event.ErrForeign, wantMsg: `resource "arn:aws:s3:::my-bucket" is not an EC2 instance ARN`},
		{name: "resource ARN has a bad instance id",
			raw:     stateEvent("running", set("resources", []string{instanceARN(region, account, "i-XYZ")})),
			wantErr: event.ErrMalformed, wantMsg: `"i-XYZ" is not an EC2 instance ID`},
		{name: "resources not a list", raw: stateEvent("running", set("resources", "arn")),
			wantErr: event.ErrMalformed, wantMsg: "envelope: json: cannot unmarshal string"},

		// Detail.
		{name: "detail missing", raw: stateEvent("running", set("detail", absent{})),
			wantErr: event.ErrMalformed, wantMsg: "state-change detail: no detail"},
		{name: "detail null", raw: stateEvent("running", set("detail", nil)),
			wantErr: event.ErrMalformed, wantMsg: "state-change detail: no detail"},
		{name: "detail a string", raw: stateEvent("running", set("detail", "running")),
			wantErr: event.ErrMalformed, wantMsg: "state-change detail: json: cannot unmarshal string"},
		{name: "detail without instance-id", raw: stateEvent("running", setDetail("instance-id", absent{})),
			wantErr: event.ErrMalformed, wantMsg: "no instance-id"},
		{name: "detail instance-id uppercase", raw: stateEvent("running", setDetail("instance-id", "i-0123456789ABCDEF0")),
			wantErr: event.ErrMalformed, wantMsg: `"i-0123456789ABCDEF0" is not an EC2 instance ID (i- and 8 or 17 hex digits)`},
		{name: "detail instance-id a number", raw: stateEvent("running", setDetail("instance-id", 123)),
			wantErr: event.ErrMalformed, wantMsg: "state-change detail: json: cannot unmarshal number"},
		{name: "detail with extra fields", raw: stateEvent("running", setDetail("extra", json.RawMessage(`{"a":[1]}`))),
			want: stateTrigger(event.Attach, "running", "")},

		// Foreign events.
		{name: "tag change sent to the state-change function",
			raw:     tagEvent([]string{tagKey}, map[string]string{tagKey: "web-tg"}),
			wantErr: event.ErrForeign, wantMsg: `source "aws.tag", detail-type "Tag Change on Resource"; this function takes source "aws.ec2", detail-type "EC2 Instance State-change Notification" or a manual event`},
		{name: "other EC2 detail type", raw: stateEvent("running", set("detail-type", "EC2 Spot Instance Interruption Warning")),
			wantErr: event.ErrForeign, wantMsg: `detail-type "EC2 Spot Instance Interruption Warning"`},
		{name: "other source", raw: stateEvent("running", set("source", "aws.autoscaling")),
			wantErr: event.ErrForeign, wantMsg: `source "aws.autoscaling"`},
		{name: "source only", raw: `{"source": "aws.ec2"}`,
			wantErr: event.ErrForeign, wantMsg: `source "aws.ec2", detail-type ""`},
		{name: "detail-type only", raw: `{"detail-type": "EC2 Instance State-change Notification"}`,
			wantErr: event.ErrForeign, wantMsg: `source "", detail-type "EC2 Instance State-change Notification"`},
		{name: "source null", raw: `{"source": null, "instance-id": "` + id + `", "action": "attach"}`,
			wantErr: event.ErrForeign, wantMsg: "or a manual event"},
		{name: "source is matched exactly", raw: stateEvent("running", set("source", "AWS.EC2")),
			wantErr: event.ErrForeign, wantMsg: `source "AWS.EC2"`},
	})
}

func TestParseStateChangeVsTagKind(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "state change sent to the tag-change function", raw: stateEvent("running"), kind: event.TagChange,
			wantErr: event.ErrForeign, wantMsg: `this function takes source "aws.tag", detail-type "Tag Change on Resource" or a manual event`},
		{name: "stopped sent to the tag-change function", raw: stateEvent("stopped"), kind: event.TagChange,
			wantErr: event.ErrForeign, wantMsg: `source "aws.ec2", detail-type "EC2 Instance State-change Notification"`},
	})
}

func TestParseNotAnObject(t *testing.T) {
	var cases []parseCase
	for _, kind := range []event.Kind{event.StateChange, event.TagChange} {
		for _, raw := range []string{"", " \t\r\n ", "[]", `[{"instance-id":"` + id + `","action":"attach"}]`,
			`"x"`, "null", "42", "true", "\ufeff{}", "<event/>"} {
			cases = append(cases, parseCase{name: kindName(kind) + "/" + raw, raw: raw, kind: kind,
				wantErr: event.ErrMalformed, wantMsg: "malformed event: want a JSON object"})
		}
		for _, c := range []struct{ raw, msg string }{
			{"{", "unexpected end of JSON input"},
			{`{"instance-id": }`, "invalid character '}'"},
			{`{"instance-id": "` + id + `", "action": "attach"} {}`, "invalid character '{' after top-level value"},
			{`{"instance-id": "` + id + `", "action": "attach"},`, "invalid character ','"},
			{`{'instance-id': 1}`, "invalid character '\\''"},
		} {
			cases = append(cases, parseCase{name: kindName(kind) + "/" + c.raw, raw: c.raw, kind: kind,
				wantErr: event.ErrMalformed, wantMsg: c.msg})
		}
	}
	runParseCases(t, cases)
}

func kindName(k event.Kind) string {
	if k == event.TagChange {
		return "tag"
	}
	return "state"
}
