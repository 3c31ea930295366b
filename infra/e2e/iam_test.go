package e2e

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/asg"
	"github.com/elbattach/elbattach/shared/observe"
	"github.com/elbattach/elbattach/shared/outcome"
)

// clientInterfaces are every AWS interface the code calls through, with the
// IAM service prefix of its calls. The code reaches AWS only through these.
var clientInterfaces = map[reflect.Type]string{
	reflect.TypeFor[observe.EC2]():         "ec2",
	reflect.TypeFor[observe.ELBv2]():       "elasticloadbalancing",
	reflect.TypeFor[observe.ClassicELB]():  "elasticloadbalancing",
	reflect.TypeFor[apply.EC2]():           "ec2",
	reflect.TypeFor[apply.ELBv2]():         "elasticloadbalancing",
	reflect.TypeFor[apply.ClassicELB]():    "elasticloadbalancing",
	reflect.TypeFor[asg.API]():             "autoscaling",
	reflect.TypeFor[outcome.EventBridge](): "events",
}

// implied are the actions AWS authorizes as part of another call: tagging
// on create (TagSpecifications) needs ec2:CreateTags.
var implied = map[string]string{"ec2:CreateSubnet": "ec2:CreateTags", "ec2:CreateRouteTable": "ec2:CreateTags"}

// codeActions derives the IAM actions from the interfaces' methods.
func codeActions() []string {
	set := map[string]bool{}
	for typ, svc := range clientInterfaces {
		for i := range typ.NumMethod() {
			action := svc + ":" + typ.Method(i).Name
			set[action] = true
			if more, ok := implied[action]; ok {
				set[more] = true
			}
		}
	}
	return sortedKeys(set)
}

// template is what iam_test reads of template.yaml: the actions of each
// managed policy, and for each function its code folder and policies.
type template struct {
	policies  map[string][]string         // managed policy logical ID -> actions
	functions map[string]templateFunction // function logical ID
}

type templateFunction struct {
	code     string   // CodeUri, e.g. functions/lifecycle/
	policies []string // logical IDs of its managed policies
}

// readTemplate parses template.yaml (its CloudFormation tags stripped: a
// `!Ref X` reads as "X").
func readTemplate() (template, error) {
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return template{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return template{}, err
	}
	stripTags(&doc)
	var tpl struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				CodeUri        string   `yaml:"CodeUri"`
				Policies       []string `yaml:"Policies"`
				PolicyDocument struct {
					Statement []struct {
						Action yaml.Node `yaml:"Action"`
					} `yaml:"Statement"`
				} `yaml:"PolicyDocument"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := doc.Decode(&tpl); err != nil {
		return template{}, err
	}
	out := template{policies: map[string][]string{}, functions: map[string]templateFunction{}}
	for id, r := range tpl.Resources {
		switch r.Type {
		case "AWS::IAM::ManagedPolicy":
			set := map[string]bool{}
			for _, st := range r.Properties.PolicyDocument.Statement {
				var many []string
				if st.Action.Kind == yaml.ScalarNode {
					many = []string{st.Action.Value}
				} else if err := st.Action.Decode(&many); err != nil {
					return template{}, err
				}
				for _, a := range many {
					set[a] = true
				}
			}
			out.policies[id] = sortedKeys(set)
		case "AWS::Serverless::Function":
			out.functions[id] = templateFunction{code: r.Properties.CodeUri, policies: r.Properties.Policies}
		}
	}
	return out, nil
}

// granted returns the actions the policies grant together.
func (t template) granted(policies ...string) []string {
	set := map[string]bool{}
	for _, p := range policies {
		for _, a := range t.policies[p] {
			set[a] = true
		}
	}
	return sortedKeys(set)
}

// templateActions reads the actions the template's managed policies grant.
func templateActions() ([]string, error) {
	t, err := readTemplate()
	if err != nil {
		return nil, err
	}
	return t.granted(slices.Collect(maps.Keys(t.policies))...), nil
}

// TestIAMMatchesCode: the template grants exactly the actions the code can
// call — no more, no fewer.
func TestIAMMatchesCode(t *testing.T) {
	t.Parallel()
	granted, err := templateActions()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(codeActions(), granted); diff != "" {
		t.Errorf("the template's policy actions (-code +template):\n%s", diff)
	}
}

// TestIAMPerFunction: each function's role grants what that function can
// call and no more. Every function runs the shared pipeline; autoscaling
// calls go through shared/asg, which only the functions linking it make;
// outcome events are put by every handler but the reconcile sweep
// (attach.Handler.HandleSweep reports in its response and log only: a fact
// this test takes from shared/attach's TestSweepPutsNoOutcomeEvents).
func TestIAMPerFunction(t *testing.T) {
	t.Parallel()
	tpl, err := readTemplate()
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.functions) != 4 {
		t.Fatalf("template functions %v, want the four of functions/", slices.Sorted(maps.Keys(tpl.functions)))
	}
	for id, fn := range tpl.functions {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "list", "-deps", "./"+fn.code)
			cmd.Dir, cmd.Env = root, append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
			deps, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps ./%s: %v", fn.code, err)
			}
			linksASG := slices.Contains(strings.Fields(string(deps)), "github.com/elbattach/elbattach/shared/asg")
			putsOutcome := fn.code != "functions/reconcile/"
			var want []string
			for _, a := range codeActions() {
				svc, _, _ := strings.Cut(a, ":")
				if (svc == "autoscaling" && !linksASG) || (svc == "events" && !putsOutcome) {
					continue
				}
				want = append(want, a)
			}
			if diff := cmp.Diff(want, tpl.granted(fn.policies...)); diff != "" {
				t.Errorf("%s (%s) actions (-code +template):\n%s", id, fn.code, diff)
			}
		})
	}
}

// recorded collects the operations every function invocation of this package
// reported (Report.Calls); TestMain checks them against the template.
var recorded = struct {
	sync.Mutex
	ops map[string]bool
}{ops: map[string]bool{}}

func record(calls map[string]int) {
	recorded.Lock()
	defer recorded.Unlock()
	for op := range calls {
		recorded.ops[op] = true
	}
}

// iamServices maps the SDK's service IDs to IAM prefixes.
var iamServices = map[string]string{"EC2": "ec2", "Elastic Load Balancing v2": "elasticloadbalancing",
	"Elastic Load Balancing": "elasticloadbalancing", "Auto Scaling": "autoscaling", "EventBridge": "events"}

// recordedNotGranted lists the recorded operations the template does not grant.
func recordedNotGranted(granted []string) []string {
	recorded.Lock()
	defer recorded.Unlock()
	var out []string
	for op := range recorded.ops {
		svc, name, _ := strings.Cut(op, ".")
		if action := iamServices[svc] + ":" + name; !slices.Contains(granted, action) {
			out = append(out, op)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestNeverDeletes: elbattach only adds. No interface it calls AWS through
// has a method that deletes, revokes, detaches or replaces anything.
func TestNeverDeletes(t *testing.T) {
	t.Parallel()
	for _, action := range codeActions() {
		_, name, _ := strings.Cut(action, ":")
		for _, verb := range []string{"Delete", "Revoke", "Disassociate", "Replace", "Detach", "Terminate", "Modify", "Remove"} {
			if strings.HasPrefix(name, verb) {
				t.Errorf("%s can remove what is there", action)
			}
		}
	}
}
