package event_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/elbattach/elbattach/shared/event"
)

func manual(action event.Action, dryRun bool) event.Trigger {
	return event.Trigger{InstanceID: id, Action: action, DryRun: dryRun, Origin: "manual"}
}

func TestParseManual(t *testing.T) {
	const usage = `manual event (want {"instance-id": "i-…", "action": "attach|detach|diagnose", "dry-run": false})`
	notID := func(s string) string { return s + ` is not an EC2 instance ID (i- and 8 or 17 hex digits)` }
	var cases []parseCase
	for _, kind := range []event.Kind{event.StateChange, event.TagChange} {
		for _, c := range []parseCase{
			{name: "attach", raw: `{"instance-id": "` + id + `", "action": "attach"}`, want: manual(event.Attach, false)},
			{name: "detach", raw: `{"instance-id": "` + id + `", "action": "detach", "dry-run": false}`, want: manual(event.Detach, false)},
			{name: "diagnose", raw: `{"instance-id": "` + id + `", "action": "diagnose"}`, want: manual(event.Diagnose, false)},
			{name: "attach dry-run", raw: `{"instance-id": "` + id + `", "action": "attach", "dry-run": true}`, want: manual(event.Attach, true)},
			{name: "detach dry-run", raw: `{"dry-run": true, "action": "detach", "instance-id": "` + id + `"}`, want: manual(event.Detach, true)},
			{name: "dry-run null", raw: `{"instance-id": "` + id + `", "action": "attach", "dry-run": null}`, want: manual(event.Attach, false)},
			{name: "8-digit id", raw: `{"instance-id": "i-89abcdef", "action": "diagnose"}`,
				want: event.Trigger{InstanceID: "i-89abcdef", Action: event.Diagnose, Origin: "manual"}},
			{name: "surrounding whitespace", raw: "\n\t {\"instance-id\": \"" + id + "\", \"action\": \"attach\"} \r\n", want: manual(event.Attach, false)},
			// encoding/json matches field names case-insensitively.
			{name: "keys in other case", raw: `{"Instance-ID": "` + id + `", "ACTION": "attach"}`, want: manual(event.Attach, false)},
			{name: "duplicate key, last wins", raw: `{"instance-id": "` + id + `", "action": "detach", "action": "attach"}`, want: manual(event.Attach, false)},

			// Action.
			{name: "missing action", raw: `{"instance-id": "` + id + `"}`,
				wantErr: event.ErrMalformed, wantMsg: `manual event has no "action" (attach, detach or diagnose)`},
			{name: "empty action", raw: `{"instance-id": "` + id + `", "action": ""}`,
				wantErr: event.ErrMalformed, wantMsg: `manual event has no "action"`},
			{name: "null action", raw: `{"instance-id": "` + id + `", "action": null}`,
				wantErr: event.ErrMalformed, wantMsg: `manual event has no "action"`},
			{name: "unknown action", raw: `{"instance-id": "` + id + `", "action": "deploy"}`,
				wantErr: event.ErrMalformed, wantMsg: `unknown action "deploy" (want attach, detach or diagnose)`},
			{name: "ignore is not a manual action", raw: `{"instance-id": "` + id + `", "action": "ignore"}`,
				wantErr: event.ErrMalformed, wantMsg: `unknown action "ignore"`},
			{name: "action is case sensitive", raw: `{"instance-id": "` + id + `", "action": "Attach"}`,
				wantErr: event.ErrMalformed, wantMsg: `unknown action "Attach"`},
			{name: "action with spaces", raw: `{"instance-id": "` + id + `", "action": " attach"}`,
				wantErr: event.ErrMalformed, wantMsg: `unknown action " attach"`},
			{name: "action a list", raw: `{"instance-id": "` + id + `", "action": ["attach"]}`,
				wantErr: event.ErrMalformed, wantMsg: usage},

			// Fields.
			{name: "unknown field dryrun", raw: `{"instance-id": "` + id + `", "action": "attach", "dryrun": true}`,
				wantErr: event.ErrMalformed, wantMsg: `unknown field "dryrun"`},
			{name: "unknown field dry_run", raw: `{"instance-id": "` + id + `", "action": "attach", "dry_run": true}`,
				wantErr: event.ErrMalformed, wantMsg: `unknown field "dry_run"`},
			{name: "unknown field detail", raw: `{"instance-id": "` + id + `", "action": "attach", "detail": {}}`,
				wantErr: event.ErrMalformed, wantMsg: usage + `: json: unknown field "detail"`},
			{name: "dry-run a string", raw: `{"instance-id": "` + id + `", "action": "attach", "dry-run": "true"}`,
				wantErr: event.ErrMalformed, wantMsg: usage},
			{name: "empty object", raw: `{}`, wantErr: event.ErrMalformed, wantMsg: "malformed event: no instance-id"},

			// Instance ID.
			{name: "missing instance-id", raw: `{"action": "attach"}`, wantErr: event.ErrMalformed, wantMsg: "no instance-id"},
			{name: "null instance-id", raw: `{"instance-id": null, "action": "attach"}`, wantErr: event.ErrMalformed, wantMsg: "no instance-id"},
			{name: "instance-id checked before action", raw: `{"action": "bogus"}`, wantErr: event.ErrMalformed, wantMsg: "no instance-id"},
			{name: "uppercase id", raw: `{"instance-id": "i-0123456789ABCDEF0", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"i-0123456789ABCDEF0"`)},
			{name: "uppercase prefix", raw: `{"instance-id": "I-0123456789abcdef0", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"I-0123456789abcdef0"`)},
			{name: "too short", raw: `{"instance-id": "i-0123456", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"i-0123456"`)},
			{name: "between 8 and 17 digits", raw: `{"instance-id": "i-012345678", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"i-012345678"`)},
			{name: "too long", raw: `{"instance-id": "i-0123456789abcdef01", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"i-0123456789abcdef01"`)},
			{name: "bare prefix", raw: `{"instance-id": "i-", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"i-"`)},
			{name: "no prefix", raw: `{"instance-id": "0123456789abcdef0", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"0123456789abcdef0"`)},
			{name: "not hex", raw: `{"instance-id": "i-0123456789abcdefg", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"i-0123456789abcdefg"`)},
			{name: "leading space", raw: `{"instance-id": " ` + id + `", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`" ` + id + `"`)},
			{name: "trailing newline", raw: `{"instance-id": "` + id + `\n", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: notID(`"` + id + `\n"`)},
			{name: "ARN instead of id", raw: `{"instance-id": "` + instanceARN(region, account, id) + `", "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: "is not an EC2 instance ID"},
			{name: "number", raw: `{"instance-id": 123, "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: usage + ": json: cannot unmarshal number"},
			{name: "list", raw: `{"instance-id": ["` + id + `"], "action": "attach"}`,
				wantErr: event.ErrMalformed, wantMsg: usage},
		} {
			c.kind = kind
			c.name = kindName(kind) + "/" + c.name
			cases = append(cases, c)
		}
	}
	runParseCases(t, cases)
}

// TestParseSampleEvents parses the sample events of events/ with the
// function each is meant for, and with the other one.
func TestParseSampleEvents(t *testing.T) {
	running := stateTrigger(event.Attach, "running", "")
	cases := []struct {
		file       string
		state, tag parseCase
	}{
		{"instance-running.json", parseCase{want: running},
			parseCase{wantErr: event.ErrForeign, wantMsg: `source "aws.ec2"`}},
		{"instance-pending.json", parseCase{want: stateTrigger(event.Ignore, "pending", `state "pending" needs no action`)},
			parseCase{wantErr: event.ErrForeign, wantMsg: `source "aws.ec2"`}},
		{"manual-attach.json", parseCase{want: manual(event.Attach, false)}, parseCase{want: manual(event.Attach, false)}},
		{"manual-dry-run.json", parseCase{want: manual(event.Attach, true)}, parseCase{want: manual(event.Attach, true)}},
		{"tag-change.json", parseCase{wantErr: event.ErrForeign, wantMsg: `source "aws.tag"`},
			parseCase{want: tagTrigger(event.Attach, "", map[string]string{tagKey: "web-tg", "Name": "web-1"})}},
		// The TagChanged rule does not deliver this one (changed-tag-keys
		// lacks the tag); Parse itself re-attaches, the tag being present.
		{"tag-change-other.json", parseCase{wantErr: event.ErrForeign, wantMsg: `source "aws.tag"`},
			parseCase{want: tagTrigger(event.Attach, "", map[string]string{tagKey: "web-tg", "Name": "web-1-renamed"})}},
	}
	for _, c := range cases {
		raw, err := os.ReadFile(filepath.Join("..", "..", "events", c.file))
		if err != nil {
			t.Fatal(err)
		}
		for kind, pc := range map[event.Kind]parseCase{event.StateChange: c.state, event.TagChange: c.tag} {
			pc.name, pc.raw, pc.kind = c.file+"/"+kindName(kind), string(raw), kind
			t.Run(pc.name, func(t *testing.T) {
				got, err := event.Parse(raw, kind, tagKey)
				checkParse(t, pc, got, err)
			})
		}
	}
}
