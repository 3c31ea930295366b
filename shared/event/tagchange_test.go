package event_test

import (
	"encoding/json"
	"testing"

	"github.com/elbattach/elbattach/shared/event"
)

func tagTrigger(action event.Action, reason string, tags map[string]string) event.Trigger {
	return event.Trigger{InstanceID: id, Action: action, Origin: "aws.tag", Reason: reason,
		Region: region, Account: account, Tags: tags}
}

func TestParseTagChange(t *testing.T) {
	withTag := map[string]string{tagKey: "web-tg", "Name": "web-1"}
	withoutTag := map[string]string{"Name": "web-1"}
	ignored := "tag elbattach:target neither present nor changed"
	tc := func(c parseCase) parseCase { c.kind = event.TagChange; return c }
	runParseCases(t, []parseCase{
		// Attach, detach, ignore.
		tc(parseCase{name: "tag added attaches", raw: tagEvent([]string{tagKey}, withTag),
			want: tagTrigger(event.Attach, "", withTag)}),
		tc(parseCase{name: "tag removed detaches", raw: tagEvent([]string{tagKey}, withoutTag),
			want: tagTrigger(event.Detach, "", withoutTag)}),
		tc(parseCase{name: "last tag removed detaches", raw: tagEvent([]string{tagKey}, map[string]string{}),
			want: tagTrigger(event.Detach, "", map[string]string{})}),
		tc(parseCase{name: "tags null and key removed detaches", raw: tagEvent([]string{tagKey}, nil),
			want: tagTrigger(event.Detach, "", nil)}),
		tc(parseCase{name: "unrelated key without the tag is ignored", raw: tagEvent([]string{"Name"}, withoutTag),
			want: tagTrigger(event.Ignore, ignored, withoutTag)}),
		tc(parseCase{name: "no changed keys, no tag", raw: tagEvent(nil, withoutTag),
			want: tagTrigger(event.Ignore, ignored, withoutTag)}),
		// The TagChanged rule only delivers events whose changed-tag-keys
		// hold the tag key; an event that does reach Parse with the tag
		// present but unchanged re-attaches (idempotent).
		tc(parseCase{name: "unrelated key with the tag present attaches", raw: tagEvent([]string{"Name"}, withTag),
			want: tagTrigger(event.Attach, "", withTag)}),
		tc(parseCase{name: "tag value changed attaches", raw: tagEvent([]string{tagKey, "Name"}, map[string]string{tagKey: "api-tg@8080"}),
			want: tagTrigger(event.Attach, "", map[string]string{tagKey: "api-tg@8080"})}),
		// An empty value is present: Parse attaches, and ParseRefs then
		// reports "the tag is empty".
		tc(parseCase{name: "tag present but empty attaches", raw: tagEvent([]string{tagKey}, map[string]string{tagKey: ""}),
			want: tagTrigger(event.Attach, "", map[string]string{tagKey: ""})}),
		tc(parseCase{name: "tag keys are case sensitive", raw: tagEvent([]string{"ELBATTACH:TARGET"}, map[string]string{"ELBATTACH:TARGET": "x"}),
			want: tagTrigger(event.Ignore, ignored, map[string]string{"ELBATTACH:TARGET": "x"})}),

		// Custom tag key.
		tc(parseCase{name: "custom tag key present", tagKey: "team:lb", raw: tagEvent([]string{"team:lb"}, map[string]string{"team:lb": "web"}),
			want: tagTrigger(event.Attach, "", map[string]string{"team:lb": "web"})}),
		tc(parseCase{name: "custom tag key removed", tagKey: "team:lb", raw: tagEvent([]string{"team:lb"}, withTag),
			want: tagTrigger(event.Detach, "", withTag)}),
		tc(parseCase{name: "default key with a custom tag key is ignored", tagKey: "team:lb", raw: tagEvent([]string{tagKey}, withTag),
			want: tagTrigger(event.Ignore, "tag team:lb neither present nor changed", withTag)}),

		// detail.version is not read.
		tc(parseCase{name: "version 3", raw: tagEvent([]string{tagKey}, withTag, setDetail("version", 3)),
			want: tagTrigger(event.Attach, "", withTag)}),
		tc(parseCase{name: "version 4.0", raw: tagEvent([]string{tagKey}, withTag, setDetail("version", json.RawMessage("4.0"))),
			want: tagTrigger(event.Attach, "", withTag)}),
		tc(parseCase{name: "version string", raw: tagEvent([]string{tagKey}, withTag, setDetail("version", "3")),
			want: tagTrigger(event.Attach, "", withTag)}),
		tc(parseCase{name: "version absent", raw: tagEvent([]string{tagKey}, withTag, setDetail("version", absent{})),
			want: tagTrigger(event.Attach, "", withTag)}),
		tc(parseCase{name: "version null", raw: tagEvent([]string{tagKey}, withTag, setDetail("version", nil)),
			want: tagTrigger(event.Attach, "", withTag)}),
		tc(parseCase{name: "version object", raw: tagEvent([]string{tagKey}, withTag, setDetail("version", map[string]int{"major": 4})),
			want: tagTrigger(event.Attach, "", withTag)}),

		// Region and account.
		tc(parseCase{name: "region and account come from the ARN",
			raw: tagEvent([]string{tagKey}, withTag, set("region", "us-west-2"), set("account", "111111111111"),
				set("resources", []string{instanceARN("eu-central-1", "222222222222", id)})),
			want: event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.tag",
				Region: "eu-central-1", Account: "222222222222", Tags: withTag}}),
		tc(parseCase{name: "instance id comes from the ARN",
			raw:  tagEvent([]string{tagKey}, withTag, set("resources", []string{instanceARN(region, account, "i-89abcdef")})),
			want: event.Trigger{InstanceID: "i-89abcdef", Action: event.Attach, Origin: "aws.tag", Region: region, Account: account, Tags: withTag}}),

		// Foreign tag changes.
		tc(parseCase{name: "service not ec2", raw: tagEvent([]string{tagKey}, withTag, setDetail("service", "rds"), setDetail("resource-type", "db")),
			wantErr: event.ErrForeign, wantMsg: "tag change on rds db, want ec2 instance"}),
		tc(parseCase{name: "resource-type not instance", raw: tagEvent([]string{tagKey}, withTag, setDetail("resource-type", "volume")),
			wantErr: event.ErrForeign, wantMsg: "tag change on ec2 volume, want ec2 instance"}),
		tc(parseCase{name: "resource-type launch-template", raw: tagEvent([]string{tagKey}, withTag, setDetail("resource-type", "launch-template")),
			wantErr: event.ErrForeign, wantMsg: "tag change on ec2 launch-template"}),
		tc(parseCase{name: "service missing", raw: tagEvent([]string{tagKey}, withTag, setDetail("service", absent{})),
			wantErr: event.ErrForeign, wantMsg: "want ec2 instance"}),
		// A null or empty detail has no service, so it counts as foreign
		// (not malformed), unlike a state change's.
		tc(parseCase{name: "detail null", raw: tagEvent(nil, nil, set("detail", nil)),
			wantErr: event.ErrMalformed, wantMsg: "tag-change detail: no detail"}),
		tc(parseCase{name: "detail empty object", raw: tagEvent(nil, nil, set("detail", map[string]any{})),
			wantErr: event.ErrForeign, wantMsg: "want ec2 instance"}),
		tc(parseCase{name: "resource is an EC2 volume ARN",
			raw:     tagEvent([]string{tagKey}, withTag, set("resources", []string{"arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0"})),
			wantErr: event.ErrForeign, wantMsg: `"arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0" is not an EC2 instance ARN`}),
		tc(parseCase{name: "resource is an ELB ARN",
			raw:     tagEvent([]string{tagKey}, withTag, set("resources", []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:instance/" + id})),
			wantErr: event.ErrForeign, wantMsg: "is not an EC2 instance ARN"}),

		// Malformed tag changes.
		tc(parseCase{name: "no resources", raw: tagEvent([]string{tagKey}, withTag, set("resources", []string{})),
			wantErr: event.ErrMalformed, wantMsg: "tag change names 0 resources, want the one instance ARN"}),
		tc(parseCase{name: "resources absent", raw: tagEvent([]string{tagKey}, withTag, set("resources", absent{})),
			wantErr: event.ErrMalformed, wantMsg: "tag change names 0 resources"}),
		tc(parseCase{name: "two resources", raw: tagEvent([]string{tagKey}, withTag,
			set("resources", []string{instanceARN(region, account, id), instanceARN(region, account, "i-89abcdef")})),
			wantErr: event.ErrMalformed, wantMsg: "tag change names 2 resources"}),
		tc(parseCase{name: "resource not an ARN", raw: tagEvent([]string{tagKey}, withTag, set("resources", []string{"instance/" + id})),
			wantErr: event.ErrMalformed, wantMsg: `resource "instance/` + id + `" is not an ARN`}),
		tc(parseCase{name: "resource ARN with a bad instance id",
			raw:     tagEvent([]string{tagKey}, withTag, set("resources", []string{instanceARN(region, account, "i-0123456789abcdef")})),
			wantErr: event.ErrMalformed, wantMsg: `"i-0123456789abcdef" is not an EC2 instance ID`}),
		tc(parseCase{name: "resource ARN without an instance id",
			raw:     tagEvent([]string{tagKey}, withTag, set("resources", []string{instanceARN(region, account, "")})),
			wantErr: event.ErrMalformed, wantMsg: "no instance-id"}),
		tc(parseCase{name: "detail missing", raw: tagEvent(nil, nil, set("detail", absent{})),
			wantErr: event.ErrMalformed, wantMsg: "tag-change detail: no detail"}),
		tc(parseCase{name: "detail a list", raw: tagEvent(nil, nil, set("detail", []string{"ec2"})),
			wantErr: event.ErrMalformed, wantMsg: "tag-change detail: json: cannot unmarshal array"}),
		tc(parseCase{name: "tags a list", raw: tagEvent([]string{tagKey}, nil, setDetail("tags", []string{tagKey})),
			wantErr: event.ErrMalformed, wantMsg: "tag-change detail: json: cannot unmarshal array"}),
		tc(parseCase{name: "tag value a number", raw: tagEvent([]string{tagKey}, nil, setDetail("tags", map[string]int{tagKey: 1})),
			wantErr: event.ErrMalformed, wantMsg: "tag-change detail: json: cannot unmarshal number"}),
		tc(parseCase{name: "changed-tag-keys a string", raw: tagEvent(nil, withTag, setDetail("changed-tag-keys", tagKey)),
			wantErr: event.ErrMalformed, wantMsg: "tag-change detail: json: cannot unmarshal string"}),
	})
}

func TestParseRegionAccountOnlyFromEventBridge(t *testing.T) {
	// Manual events carry neither; the handler must not invent them.
	got, err := event.Parse([]byte(`{"instance-id":"`+id+`","action":"attach"}`), event.TagChange, tagKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.Region != "" || got.Account != "" || got.Tags != nil {
		t.Errorf("manual trigger has region %q, account %q, tags %v; want none", got.Region, got.Account, got.Tags)
	}
}
