package e2e

import (
	"os"
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

// templateActions reads the actions ElbattachPolicy grants.
func templateActions() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	stripTags(&doc)
	var tpl struct {
		Resources map[string]struct {
			Properties struct {
				PolicyDocument struct {
					Statement []struct {
						Action yaml.Node `yaml:"Action"`
					} `yaml:"Statement"`
				} `yaml:"PolicyDocument"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := doc.Decode(&tpl); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, st := range tpl.Resources["ElbattachPolicy"].Properties.PolicyDocument.Statement {
		var many []string
		if st.Action.Kind == yaml.ScalarNode {
			many = []string{st.Action.Value}
		} else if err := st.Action.Decode(&many); err != nil {
			return nil, err
		}
		for _, a := range many {
			set[a] = true
		}
	}
	return sortedKeys(set), nil
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
		t.Errorf("ElbattachPolicy actions (-code +template):\n%s", diff)
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
