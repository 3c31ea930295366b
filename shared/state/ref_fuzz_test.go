package state_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/state"
)

// FuzzParseRefs checks ParseRefs' contract on any tag value: no panic; 1..10
// distinct refs, each naming exactly one target by a valid name or an ARN,
// with a port in range and its Raw text taken from the value; or an error
// wrapping ErrBadTargetTag. Seeds: testdata/fuzz/FuzzParseRefs.
func FuzzParseRefs(f *testing.F) {
	for _, s := range []string{"web-tg", "web-tg@8080,classic/old", tgARN + "@443", " , ", "a,b,c,d,e,f,g,h,i,j,a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		refs, err := state.ParseRefs(value)
		if err != nil {
			if !errors.Is(err, state.ErrBadTargetTag) {
				t.Fatalf("ParseRefs(%q): error %q does not wrap ErrBadTargetTag", value, err)
			}
			if refs != nil {
				t.Fatalf("ParseRefs(%q) returned %v with error %v", value, refs, err)
			}
			return
		}
		if len(refs) < 1 || len(refs) > 10 {
			t.Fatalf("ParseRefs(%q) returned %d refs, want 1..10", value, len(refs))
		}
		seen := map[string]bool{}
		for _, r := range refs {
			checkRef(t, value, r)
			if seen[r.Raw] {
				t.Fatalf("ParseRefs(%q): %q twice", value, r.Raw)
			}
			seen[r.Raw] = true
		}

		// Parsing the refs' own text again gives the same refs.
		raws := make([]string, len(refs))
		for i, r := range refs {
			raws[i] = r.Raw
		}
		again, err := state.ParseRefs(strings.Join(raws, ","))
		if err != nil {
			t.Fatalf("ParseRefs(%q) accepted, its refs %q rejected: %v", value, raws, err)
		}
		if diff := cmp.Diff(refs, again); diff != "" {
			t.Fatalf("ParseRefs(%q) then re-parsed (-first +second):\n%s", value, diff)
		}
	})
}

func checkRef(t *testing.T, value string, r state.Ref) {
	t.Helper()
	if (r.Name == "") == (r.ARN == "") {
		t.Fatalf("ParseRefs(%q): %+v: want exactly one of Name and ARN", value, r)
	}
	if r.Port < 0 || r.Port > 65535 {
		t.Fatalf("ParseRefs(%q): %+v: port out of range", value, r)
	}
	if r.Raw == "" || r.Raw != strings.TrimSpace(r.Raw) || strings.Contains(r.Raw, ",") {
		t.Fatalf("ParseRefs(%q): %+v: Raw is not a trimmed, comma-free element", value, r)
	}
	if !strings.Contains(value, r.Raw) {
		t.Fatalf("ParseRefs(%q): %+v: Raw does not appear in the value", value, r)
	}
	if r.String() != r.Raw {
		t.Fatalf("ParseRefs(%q): %+v: String() = %q", value, r, r.String())
	}
	switch {
	case r.Classic:
		if r.Name == "" || r.Port != 0 || r.Raw != "classic/"+r.Name {
			t.Fatalf("ParseRefs(%q): bad classic ref %+v", value, r)
		}
	case r.ARN != "":
		if !strings.HasPrefix(r.ARN, "arn:") || !strings.HasPrefix(r.Raw, r.ARN) {
			t.Fatalf("ParseRefs(%q): bad ARN ref %+v", value, r)
		}
	default:
		if r.Region != "" || r.Account != "" || !strings.HasPrefix(r.Raw, r.Name) {
			t.Fatalf("ParseRefs(%q): bad name ref %+v", value, r)
		}
	}
	if r.Name != "" && !validName(r.Name) {
		t.Fatalf("ParseRefs(%q): %+v: name %q is not 1-32 letters, digits and inner hyphens", value, r, r.Name)
	}
}

func validName(s string) bool {
	if len(s) < 1 || len(s) > 32 || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") {
		return false
	}
	return strings.Trim(s, "-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}
