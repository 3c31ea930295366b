package state_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/state"
)

const (
	tgARN  = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"
	name32 = "abcdefghijklmnopqrstuvwxyz-01234" // 32 characters
)

func named(raw, name string, port int32) state.Ref {
	return state.Ref{Raw: raw, Name: name, Port: port}
}

func TestParseRefs(t *testing.T) {
	euARN := "arn:aws:elasticloadbalancing:eu-west-1:210987654321:targetgroup/api/fedcba9876543210"
	ten := "a,b,c,d,e,f,g,h,i,j"
	cases := []struct {
		name, value string
		want        []state.Ref
	}{
		{"name", "web-tg", []state.Ref{named("web-tg", "web-tg", 0)}},
		{"name with port", "web-tg@8080", []state.Ref{named("web-tg@8080", "web-tg", 8080)}},
		{"port 1", "web@1", []state.Ref{named("web@1", "web", 1)}},
		{"port 65535", "web@65535", []state.Ref{named("web@65535", "web", 65535)}},
		{"single character", "a", []state.Ref{named("a", "a", 0)}},
		{"32 characters", name32, []state.Ref{named(name32, name32, 0)}},
		{"digits and capitals", "Web-TG-2", []state.Ref{named("Web-TG-2", "Web-TG-2", 0)}},
		{"name that reads classic", "classic", []state.Ref{named("classic", "classic", 0)}},
		{"ARN", tgARN, []state.Ref{{Raw: tgARN, ARN: tgARN, Region: "us-east-1", Account: "123456789012"}}},
		{"ARN with port", euARN + "@443",
			[]state.Ref{{Raw: euARN + "@443", ARN: euARN, Port: 443, Region: "eu-west-1", Account: "210987654321"}}},
		{"GovCloud ARN", "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/g/1",
			[]state.Ref{{Raw: "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/g/1",
				ARN:    "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/g/1",
				Region: "us-gov-west-1", Account: "123456789012"}}},
		{"classic", "classic/legacy-elb", []state.Ref{{Raw: "classic/legacy-elb", Classic: true, Name: "legacy-elb"}}},
		{"classic 32 characters", "classic/" + name32, []state.Ref{{Raw: "classic/" + name32, Classic: true, Name: name32}}},
		{"list", "web-tg,api-tg@81," + tgARN + ",classic/old", []state.Ref{
			named("web-tg", "web-tg", 0), named("api-tg@81", "api-tg", 81),
			{Raw: tgARN, ARN: tgARN, Region: "us-east-1", Account: "123456789012"},
			{Raw: "classic/old", Classic: true, Name: "old"}}},
		{"whitespace", " \tweb-tg ,  api-tg@81\n", []state.Ref{named("web-tg", "web-tg", 0), named("api-tg@81", "api-tg", 81)}},
		{"duplicates collapsed, first kept", "web-tg, api, web-tg ,web-tg", []state.Ref{named("web-tg", "web-tg", 0), named("api", "api", 0)}},
		{"same name, other port, kept", "web-tg,web-tg@80", []state.Ref{named("web-tg", "web-tg", 0), named("web-tg@80", "web-tg", 80)}},
		// Duplicates are collapsed on the text, not on the meaning.
		{"port 080 is not a duplicate of 80", "web@80,web@080", []state.Ref{named("web@80", "web", 80), named("web@080", "web", 80)}},
		{"port +80", "web@+80", []state.Ref{named("web@+80", "web", 80)}},
		{"empty parts", ",web-tg,,api-tg,", []state.Ref{named("web-tg", "web-tg", 0), named("api-tg", "api-tg", 0)}},
		{"ten targets", ten, refsOf(ten)},
		{"eleven with a duplicate", ten + ",a", refsOf(ten)},
		{"eleven with an empty part", ten + ", ,", refsOf(ten)},
		// An @ before the last / is part of the ARN, not a port.
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, bad, err := state.ParseRefs(tc.value)
			if err != nil || bad != nil {
				t.Fatalf("ParseRefs(%q): %v, bad %v", tc.value, err, bad)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseRefs(%q) (-want +got):\n%s", tc.value, diff)
			}
		})
	}
}

func refsOf(list string) []state.Ref {
	var out []state.Ref
	for _, s := range strings.Split(list, ",") {
		out = append(out, named(s, s, 0))
	}
	return out
}

func TestParseRefsErrors(t *testing.T) {
	tgName := "a target group name has 1-32 letters, digits and hyphens (or use its ARN)"
	clbName := "a Classic Load Balancer name has 1-32 letters, digits and hyphens"
	cases := []struct {
		name, value, wantMsg string
	}{
		{"empty", "", "bad target tag: the tag is empty"},
		{"blank", " \t\n", "the tag is empty"},
		{"only commas", " , ,", `", ," names no target`},
		{"ARN with @ inside the name", "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a@1/b", "is not a target group ARN"},
		{"ARN without name and ID", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/", "is not a target group ARN"},
		{"ARN without region and account", "arn:aws:elasticloadbalancing:::targetgroup/web/1", "is not a target group ARN"},
		{"eleven targets", "a,b,c,d,e,f,g,h,i,j,k", "11 targets, at most 10"},
		{"twelve targets", "a,b,c,d,e,f,g,h,i,j,k,l", "12 targets, at most 10"},

		{"port 0", "web-tg@0", `"web-tg@0": port "0" is not 1-65535`},
		{"port 65536", "web-tg@65536", `"web-tg@65536": port "65536" is not 1-65535`},
		{"port abc", "web-tg@abc", `"web-tg@abc": port "abc" is not 1-65535`},
		{"port empty", "web-tg@", `"web-tg@": port "" is not 1-65535`},
		{"port negative", "web-tg@-80", `port "-80" is not 1-65535`},
		{"port with space", "web-tg@ 80", `port " 80" is not 1-65535`},
		{"port huge", "web-tg@99999999999999999999", `port "99999999999999999999" is not 1-65535`},
		{"two ports", "web-tg@80@81", `"web-tg@80@81": ` + tgName},
		{"port only", "@80", `"@80": ` + tgName},

		{"underscore", "web_tg", `"web_tg": ` + tgName},
		{"dot", "web.tg", `"web.tg": ` + tgName},
		{"space inside", "web tg", `"web tg": ` + tgName},
		{"slash", "web/tg", `"web/tg": ` + tgName},
		{"non-ASCII", "wéb", `"wéb": ` + tgName},
		{"33 characters", name32 + "x", `"` + name32 + `x": ` + tgName},
		{"leading hyphen", "-web", `"-web": ` + tgName},
		{"trailing hyphen", "web-", `"web-": ` + tgName},
		{"hyphen only", "-", `"-": ` + tgName},
		{"bad name with port", "web_tg@80", `"web_tg@80": ` + tgName},
		{"Classic prefix is case sensitive", "Classic/web", `"Classic/web": ` + tgName},

		{"classic without name", "classic/", `"classic/": ` + clbName},
		{"classic leading hyphen", "classic/-old", `"classic/-old": ` + clbName},
		{"classic underscore", "classic/old_elb", `"classic/old_elb": ` + clbName},
		{"classic 33 characters", "classic/" + name32 + "x", clbName},
		{"classic with port", "classic/old@80", `"classic/old@80": ` + clbName},
		{"classic nested", "classic/classic/old", clbName},

		{"load balancer ARN", "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef",
			`"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef" is not a target group ARN`},
		{"EC2 ARN", "arn:aws:ec2:us-east-1:123456789012:targetgroup/web/1", "is not a target group ARN"},
		{"short ARN", "arn:aws:elasticloadbalancing", `"arn:aws:elasticloadbalancing" is not a target group ARN`},
		{"ARN prefix only", "arn:", `"arn:" is not a target group ARN`},
		{"ARN with bad port", tgARN + "@0", `"` + tgARN + `@0": port "0" is not 1-65535`},
		{"ARN with port abc", tgARN + "@abc", `port "abc" is not 1-65535`},
		{"ARN with port and bad ARN", "arn:x@80", `"arn:x@80" is not a target group ARN`},
		{"ARN in capitals", strings.ToUpper(tgARN), tgName},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A bad value as a whole fails in err; a bad single element in
			// bad.
			got, bad, err := state.ParseRefs(tc.value)
			if err != nil && bad != nil {
				t.Errorf("ParseRefs(%q) returned bad %v with its error", tc.value, bad)
			}
			if err == nil && len(bad) == 1 && bad[0].Raw == strings.TrimSpace(tc.value) {
				err = bad[0].Err
			}
			if err == nil {
				t.Fatalf("ParseRefs(%q) = %v, bad %v, want an error", tc.value, got, bad)
			}
			if got != nil {
				t.Errorf("ParseRefs(%q) returned %v with its error", tc.value, got)
			}
			if !errors.Is(err, state.ErrBadTargetTag) {
				t.Errorf("error %q does not wrap ErrBadTargetTag", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

// TestParseRefsBadElement: a bad element fails alone; the targets named
// beside it are parsed, in order, and count toward the limit of 10.
func TestParseRefsBadElement(t *testing.T) {
	refs, bad, err := state.ParseRefs("web-tg, api_tg ,db-tg@8080,api_tg")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]state.Ref{named("web-tg", "web-tg", 0), named("db-tg@8080", "db-tg", 8080)}, refs); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	if len(bad) != 1 || bad[0].Raw != "api_tg" || !errors.Is(bad[0].Err, state.ErrBadTargetTag) ||
		!strings.Contains(bad[0].Err.Error(), `"api_tg": a target group name has 1-32 letters`) {
		t.Errorf("bad %+v, want api_tg once, with why", bad)
	}
	if _, _, err := state.ParseRefs("a,b,c,d,e,f,g,h,i,j,k_k"); !errors.Is(err, state.ErrBadTargetTag) || !strings.Contains(err.Error(), "11 targets") {
		t.Errorf("ten good and one bad: %v, want 11 targets refused", err)
	}
}

func TestRefString(t *testing.T) {
	refs, _, err := state.ParseRefs(" web-tg@8080 , classic/old ")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.String())
	}
	if diff := cmp.Diff([]string{"web-tg@8080", "classic/old"}, got); diff != "" {
		t.Errorf("String() (-want +got):\n%s", diff)
	}
}
