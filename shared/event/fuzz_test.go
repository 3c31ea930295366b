package event_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/event"
)

var validInstanceID = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

// FuzzParse checks Parse's contract on any input: no panic; a Trigger with a
// valid instance ID and a known action, or an error wrapping exactly one of
// ErrMalformed and ErrForeign. Seeds: testdata/fuzz/FuzzParse and events/.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("sample events: %v (%d files)", err, len(files))
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, false, tagKey)
		f.Add(raw, true, tagKey)
	}
	f.Fuzz(func(t *testing.T, raw []byte, tagChange bool, key string) {
		kind := event.StateChange
		if tagChange {
			kind = event.TagChange
		}
		in := bytes.Clone(raw)
		got, err := event.Parse(raw, kind, key)
		if !bytes.Equal(in, raw) {
			t.Fatalf("Parse modified its input")
		}
		if err != nil {
			malformed, foreign := errors.Is(err, event.ErrMalformed), errors.Is(err, event.ErrForeign)
			if malformed == foreign {
				t.Fatalf("error %q: wraps ErrMalformed %v, ErrForeign %v; want exactly one", err, malformed, foreign)
			}
			if !cmp.Equal(got, event.Trigger{}) {
				t.Fatalf("error %q came with trigger %+v", err, got)
			}
		} else {
			checkTrigger(t, got)
		}

		// Deterministic, and blind to surrounding whitespace.
		again, err2 := event.Parse(append(append([]byte(" \n"), raw...), '\t'), kind, key)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("padding the input changed the error from %v to %v", err, err2)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("padding the input changed the trigger (-before +after):\n%s", diff)
		}
	})
}

func checkTrigger(t *testing.T, got event.Trigger) {
	t.Helper()
	if !validInstanceID.MatchString(got.InstanceID) {
		t.Fatalf("trigger %+v: instance ID %q is not valid", got, got.InstanceID)
	}
	switch got.Action {
	case event.Attach, event.Detach, event.Diagnose:
		if got.Reason != "" {
			t.Fatalf("trigger %+v: %s with a reason", got, got.Action)
		}
	case event.Ignore:
		if got.Reason == "" {
			t.Fatalf("trigger %+v: ignore without a reason", got)
		}
	default:
		t.Fatalf("trigger %+v: unknown action %q", got, got.Action)
	}
	switch {
	case got.Origin == "manual":
		if got.Region != "" || got.Account != "" || got.Tags != nil || got.Action == event.Ignore {
			t.Fatalf("manual trigger %+v has EventBridge fields or ignores", got)
		}
	case got.Origin == event.SourceTag:
		if got.DryRun || got.Action == event.Diagnose {
			t.Fatalf("tag trigger %+v: dry-run or diagnose", got)
		}
	case len(got.Origin) > len(event.SourceEC2) && got.Origin[:len(event.SourceEC2)+1] == event.SourceEC2+" ":
		if got.DryRun || got.Action == event.Diagnose || got.Tags != nil {
			t.Fatalf("state trigger %+v: dry-run, diagnose or tags", got)
		}
	default:
		t.Fatalf("trigger %+v: unknown origin %q", got, got.Origin)
	}
}
