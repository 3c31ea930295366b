package attach

import (
	"fmt"
	"slices"
	"testing"
)

// TestReconcileOrder: at most max instances; those registered nowhere first,
// but at least half the places, when there are enough, for the others; each
// part in a random order; nothing twice.
func TestReconcileOrder(t *testing.T) {
	ids := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%d", prefix, i))
		}
		return out
	}
	count := func(todo []string, prefix string) int {
		n := 0
		for _, id := range todo {
			if id[0] == prefix[0] {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		first, rest, max, wantFirst, wantRest int
	}{
		{3, 10, 100, 3, 10},
		{100, 50, 100, 50, 50}, // first does not crowd out the rest
		{100, 10, 100, 90, 10}, // a short rest leaves its places to first
		{10, 100, 100, 10, 90},
		{0, 5, 2, 0, 2},
		{5, 0, 2, 2, 0},
		{1, 1, 1, 1, 0}, // one place: first's
	} {
		todo := reconcileOrder(ids("f", tc.first), ids("r", tc.rest), tc.max)
		if f, r := count(todo, "f"), count(todo, "r"); f != tc.wantFirst || r != tc.wantRest || len(slices.Compact(slices.Sorted(slices.Values(todo)))) != len(todo) {
			t.Errorf("first %d, rest %d, max %d: took %d first, %d rest (%v)", tc.first, tc.rest, tc.max, f, r, todo)
		}
	}
}
