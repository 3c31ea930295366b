package event_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/event"
)

const (
	tagKey  = "elbattach:target"
	id      = "i-0123456789abcdef0"
	region  = "us-east-1"
	account = "123456789012"
)

// instanceARN is the ARN EventBridge puts in resources for an instance.
func instanceARN(region, account, id string) string {
	return "arn:aws:ec2:" + region + ":" + account + ":instance/" + id
}

// absent, as a value given to set or setDetail, deletes the key.
type absent struct{}

// mod changes an event before it is encoded.
type mod func(env map[string]any)

// set sets (or, with absent{}, deletes) a top-level key of the envelope.
func set(key string, v any) mod {
	return func(env map[string]any) {
		if _, ok := v.(absent); ok {
			delete(env, key)
			return
		}
		env[key] = v
	}
}

// setDetail sets (or deletes) a key of the detail object.
func setDetail(key string, v any) mod {
	return func(env map[string]any) {
		d := env["detail"].(map[string]any)
		if _, ok := v.(absent); ok {
			delete(d, key)
			return
		}
		d[key] = v
	}
}

// stateEvent is an EC2 state-change event as EventBridge delivers it.
func stateEvent(state string, mods ...mod) string {
	return encode(map[string]any{
		"version":     "0",
		"id":          "7bf73129-1428-4cd3-a780-95db273d1602",
		"detail-type": event.DetailStateChange,
		"source":      event.SourceEC2,
		"account":     account,
		"time":        "2026-11-24T10:15:30Z",
		"region":      region,
		"resources":   []string{instanceARN(region, account, id)},
		"detail":      map[string]any{"instance-id": id, "state": state},
	}, mods)
}

// tagEvent is a "Tag Change on Resource" event for the instance id.
func tagEvent(changed []string, tags map[string]string, mods ...mod) string {
	return encode(map[string]any{
		"version":     "0",
		"id":          "ffd8a6fe-32f8-ef66-c85c-111111111111",
		"detail-type": event.DetailTagChange,
		"source":      event.SourceTag,
		"account":     account,
		"time":        "2026-11-24T10:20:00Z",
		"region":      region,
		"resources":   []string{instanceARN(region, account, id)},
		"detail": map[string]any{
			"changed-tag-keys": changed,
			"service":          "ec2",
			"resource-type":    "instance",
			"version":          json.RawMessage("3"),
			"tags":             tags,
		},
	}, mods)
}

func encode(env map[string]any, mods []mod) string {
	for _, m := range mods {
		m(env)
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// parseCase is one Parse call and its exact expected outcome: either want,
// or an error matching wantErr (and not the other sentinel) whose message
// contains wantMsg.
type parseCase struct {
	name    string
	raw     string
	kind    event.Kind
	tagKey  string // tagKey when empty
	want    event.Trigger
	wantErr error
	wantMsg string
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			key := tc.tagKey
			if key == "" {
				key = tagKey
			}
			got, err := event.Parse([]byte(tc.raw), tc.kind, key)
			checkParse(t, tc, got, err)
		})
	}
}

func checkParse(t *testing.T, tc parseCase, got event.Trigger, err error) {
	t.Helper()
	if tc.wantErr == nil {
		if err != nil {
			t.Fatalf("Parse(%s) error: %v", tc.raw, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Parse(%s) trigger (-want +got):\n%s", tc.raw, diff)
		}
		return
	}
	if err == nil {
		t.Fatalf("Parse(%s) = %+v, want error %v", tc.raw, got, tc.wantErr)
	}
	if !errors.Is(err, tc.wantErr) {
		t.Errorf("Parse error %q does not wrap %v", err, tc.wantErr)
	}
	other := event.ErrForeign
	if tc.wantErr == event.ErrForeign {
		other = event.ErrMalformed
	}
	if errors.Is(err, other) {
		t.Errorf("Parse error %q wraps %v as well as %v", err, other, tc.wantErr)
	}
	if tc.wantMsg == "" {
		t.Fatal("test case has no wantMsg")
	}
	if !strings.Contains(err.Error(), tc.wantMsg) {
		t.Errorf("Parse error %q does not contain %q", err, tc.wantMsg)
	}
	if !cmp.Equal(got, event.Trigger{}) {
		t.Errorf("Parse returned %+v with its error, want the zero Trigger", got)
	}
}
