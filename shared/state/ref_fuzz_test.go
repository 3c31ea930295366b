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
		refs, bad, err := state.ParseRefs(value)
		if err != nil {
			if !errors.Is(err, state.ErrBadTargetTag) {
				t.Fatalf("ParseRefs(%q): error %q does not wrap ErrBadTargetTag", value, err)
			}
			if refs != nil || bad != nil {
				t.Fatalf("ParseRefs(%q) returned %v, bad %v with error %v", value, refs, bad, err)
			}
			return
		}
		if n := len(refs) + len(bad); n < 1 || n > 10 {
			t.Fatalf("ParseRefs(%q) returned %d refs and %d bad, want 1..10 in all", value, len(refs), len(bad))
		}
		for _, b := range bad {
			if !errors.Is(b.Err, state.ErrBadTargetTag) || b.Raw == "" || b.Raw != strings.TrimSpace(b.Raw) ||
				strings.Contains(b.Raw, ",") || !strings.Contains(value, b.Raw) {
				t.Fatalf("ParseRefs(%q): bad element %+v", value, b)
			}
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
		if len(raws) == 0 {
			return
		}
		again, againBad, err := state.ParseRefs(strings.Join(raws, ","))
		if err != nil || againBad != nil {
			t.Fatalf("ParseRefs(%q) accepted, its refs %q rejected: %v, %v", value, raws, err, againBad)
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
