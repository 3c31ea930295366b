package attach

import (
	"fmt"
	"slices"
	"testing"
)

// TestReconcileOrder: at most max instances; those registered nowhere first,
// but half the places, when there are enough, for the others (an odd place
// to either: -1 below); nothing twice; and the order is random.
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
		{1, 1, 1, -1, -1},      // one place: either's
		{100, 100, 99, -1, -1}, // 49 or 50 each
	} {
		todo := reconcileOrder(ids("f", tc.first), ids("r", tc.rest), tc.max)
		f, r := count(todo, "f"), count(todo, "r")
		odd := tc.wantFirst < 0 && f+r == tc.max && f >= tc.max/2 && r >= tc.max/2
		if (!odd && (f != tc.wantFirst || r != tc.wantRest)) || len(slices.Compact(slices.Sorted(slices.Values(todo)))) != len(todo) {
			t.Errorf("first %d, rest %d, max %d: took %d first, %d rest (%v)", tc.first, tc.rest, tc.max, f, r, todo)
		}
	}
	// Random: over 200 draws of one place among one of each, each side wins
	// (the chance that one never does is 2^-199).
	wins := map[string]int{}
	for range 200 {
		wins[reconcileOrder([]string{"f"}, []string{"r"}, 1)[0]]++
	}
	if wins["f"] == 0 || wins["r"] == 0 {
		t.Errorf("one place over 200 runs: %v, want both sides", wins)
	}
	// And the order within a part: over 200 draws the first of ten varies.
	heads := map[string]bool{}
	for range 200 {
		heads[reconcileOrder(ids("f", 10), nil, 10)[0]] = true
	}
	if len(heads) < 2 {
		t.Errorf("the same first instance in 200 runs: %v", heads)
	}
}

// TestPartition: the outcome event's instance ARN names the region's
// partition (a reviewer's note: it said aws everywhere).
func TestPartition(t *testing.T) {
	for region, want := range map[string]string{"us-east-1": "aws", "eu-west-3": "aws", "cn-north-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b", "eusc-de-east-1": "aws-eusc",
		"eu-isoe-west-1": "aws-iso-e", "us-isof-south-1": "aws-iso-f"} {
		if got := partition(region); got != want {
			t.Errorf("partition(%q) = %q, want %q", region, got, want)
		}
	}
}
