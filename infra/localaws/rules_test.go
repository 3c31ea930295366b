package localaws

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadRules(t *testing.T) {
	t.Parallel()
	rules, err := LoadRules(filepath.Join("testdata", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tagPattern := `{"detail":{"changed-tag-keys":["elbattach:target"],"resource-type":["instance"],"service":["ec2"]},` +
		`"detail-type":["Tag Change on Resource"],"source":["aws.tag"]}`
	want := []Rule{
		{Function: "InstanceStateFunction", Name: "InstanceRunning", Pattern: json.RawMessage(
			`{"detail":{"state":["running"]},"detail-type":["EC2 Instance State-change Notification"],"source":["aws.ec2"]}`)},
		{Function: "TagChangeFunction", Name: "TagChanged", Pattern: json.RawMessage(tagPattern)},
		{Function: "AuditFunction", Name: "SameAsTags", Pattern: json.RawMessage(tagPattern)},
		{Function: "AuditFunction", Name: "BigVersion", Pattern: json.RawMessage(
			`{"detail":{"dry-run":[true],"version":[{"numeric":[">=",4]}]},"source":["aws.tag"]}`)},
	}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("LoadRules (-want +got):\n%s", diff)
	}
}

func TestLoadRulesProjectTemplate(t *testing.T) {
	t.Parallel()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "template.yaml")
	rules, err := LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("no EventBridge rules in the project template")
	}
	for _, r := range rules {
		if !json.Valid(r.Pattern) || r.Function == "" || r.Name == "" {
			t.Errorf("bad rule %+v", r)
		}
	}
}

func TestLoadRulesErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	noPattern := "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n" +
		"        E:\n          Type: EventBridgeRule\n          Properties: {}\n"
	if err := os.WriteFile(bad, []byte(noPattern), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.yaml"), bad} {
		if _, err := LoadRules(path); err == nil {
			t.Errorf("LoadRules(%s) succeeded, want an error", path)
		}
	}
}
