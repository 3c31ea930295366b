package localaws

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newTestBus builds a Bus from the testdata template.
func newTestBus(t *testing.T) *Bus {
	t.Helper()
	rules, err := LoadRules(filepath.Join("testdata", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bus, err := NewBus(t.Context(), testConfig(t), rules)
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

const instanceARN = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"

func TestBusDeliver(t *testing.T) {
	t.Parallel()
	bus, other := newTestBus(t), newTestBus(t)
	cases := []struct {
		name, source, detailType string
		detail                   any
		want                     []string
	}{
		{"running", "aws.ec2", "EC2 Instance State-change Notification",
			map[string]any{"instance-id": "i-0123456789abcdef0", "state": "running"}, []string{"InstanceStateFunction"}},
		{"pending", "aws.ec2", "EC2 Instance State-change Notification",
			map[string]any{"instance-id": "i-0123456789abcdef0", "state": "pending"}, nil},
		{"target tag", "aws.tag", "Tag Change on Resource",
			`{"changed-tag-keys":["elbattach:target","Name"],"service":"ec2","resource-type":"instance","version":3,"tags":{}}`,
			[]string{"AuditFunction", "TagChangeFunction"}},
		{"other tag", "aws.tag", "Tag Change on Resource",
			json.RawMessage(`{"changed-tag-keys":["Name"],"service":"ec2","resource-type":"instance","version":3,"tags":{"Name":"x"}}`), nil},
		{"numeric match", "aws.tag", "Tag Change on Resource",
			[]byte(`{"changed-tag-keys":["Name"],"version":4.0,"dry-run":true}`), []string{"AuditFunction"}},
		{"not a number", "aws.tag", "Tag Change on Resource",
			[]byte(`{"changed-tag-keys":["Name"],"version":"4","dry-run":true}`), nil},
	}
	for _, c := range cases {
		got, err := bus.Deliver(t.Context(), c.source, c.detailType, c.detail, []string{instanceARN})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var fns []string
		if body, ok := got["AuditFunction"]; ok && c.name == "numeric match" && !strings.Contains(string(body), `"version":4.0`) {
			t.Errorf("detail not kept byte for byte: %s", body)
		}
		for fn, body := range got {
			fns = append(fns, fn)
			checkEnvelope(t, c.name, body, c.source, c.detailType)
		}
		slices.Sort(fns)
		if diff := cmp.Diff(c.want, fns); diff != "" {
			t.Errorf("%s: functions (-want +got):\n%s", c.name, diff)
		}
	}
	// Nothing leaked into the other bus's queues.
	got, err := other.Deliver(t.Context(), "none", "None", map[string]any{}, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("other bus: got %v, %v; want nothing", got, err)
	}
	if err := bus.Close(t.Context()); err != nil {
		t.Error(err)
	}
}

// checkEnvelope checks the EventBridge envelope of a delivered event.
func checkEnvelope(t *testing.T, name string, body []byte, source, detailType string) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatalf("%s: decoding %s, %v", name, body, err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"account", "detail", "detail-type", "id", "region", "resources", "source", "time", "version"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("%s: envelope fields (-want +got):\n%s", name, diff)
	}
	var ev struct {
		Account    string          `json:"account"`
		ID         string          `json:"id"`
		Version    string          `json:"version"`
		Time       string          `json:"time"`
		Region     string          `json:"region"`
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("%s: decoding %s, %v", name, body, err)
	}
	if ev.ID == "" || ev.Account != "123456789012" || ev.Version != "0" || ev.Time == "" || ev.Region != Region || ev.Source != source ||
		ev.DetailType != detailType || !slices.Equal(ev.Resources, []string{instanceARN}) || len(ev.Detail) == 0 {
		t.Errorf("%s: envelope %s", name, body)
	}
}
