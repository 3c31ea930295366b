package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/infra/localaws"
)

// deliver puts an event on a bus carrying the template's rules and returns
// the functions (by folder name) whose rule matched, with what they got.
func deliver(t *testing.T, bus *localaws.Bus, source, detailType string, detail any, resources ...string) map[string][]byte {
	t.Helper()
	got, err := bus.Deliver(t.Context(), source, detailType, detail, resources)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for fn, id := range logicalID {
		if b, ok := got[id]; ok {
			out[fn] = b
		}
	}
	return out
}

func newBus(t *testing.T) *localaws.Bus {
	t.Helper()
	bus, err := localaws.NewBus(t.Context(), awsCfg, rules)
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

func instanceARN(id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:123456789012:instance/%s", region, id)
}

// TestLaunchAttachesThroughTemplateRule is the foundation scenario: ALB in
// us-east-1a and b, instance in a private subnet of us-east-1c. The launch
// event goes through the template's rule to the real bootstrap.
func TestLaunchAttachesThroughTemplateRule(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	bus, fn := newBus(t), function(t, StateFn)

	pending := deliver(t, bus, "aws.ec2", "EC2 Instance State-change Notification",
		map[string]string{"instance-id": s.inst.ID, "state": "pending"}, instanceARN(s.inst.ID))
	if len(pending) != 0 {
		t.Fatalf("a pending state matched %v", keys(pending))
	}
	got := deliver(t, bus, "aws.ec2", "EC2 Instance State-change Notification",
		map[string]string{"instance-id": s.inst.ID, "state": "running"}, instanceARN(s.inst.ID))
	if _, ok := got[StateFn]; !ok || len(got) != 1 {
		t.Fatalf("running state delivered to %v, want only %s", keys(got), StateFn)
	}
	r, ferr := invoke(t, fn, got[StateFn])
	if ferr != nil {
		t.Fatalf("function failed: %v", ferr)
	}

	// A new public /27 in us-east-1c, routed to the IGW, tagged, on the ALB
	// beside a and b.
	lb := s.lbSubnets()
	if len(lb) != 3 || lb["us-east-1a"] == "" || lb["us-east-1b"] == "" || lb["us-east-1c"] == "" {
		t.Fatalf("load balancer subnets = %v, want a, b and c", lb)
	}
	var public string
	for _, sn := range s.subnetsIn("us-east-1c") {
		if aws.ToString(sn.SubnetId) == lb["us-east-1c"] {
			public = aws.ToString(sn.CidrBlock)
			tags := tagsOf(sn.Tags)
			if tags["Name"] != "elbattach-public-us-east-1c" || tags["elbattach:managed"] != "true" {
				t.Errorf("new subnet tags = %v", tags)
			}
		}
	}
	if public != "10.0.3.0/27" {
		t.Errorf("new subnet CIDR = %q, want 10.0.3.0/27 (lowest free block)", public)
	}
	if !s.routedToIGW(lb["us-east-1c"]) {
		t.Errorf("new subnet %s is not routed to %s", lb["us-east-1c"], s.vpc.IGW)
	}
	wantRule := fmt.Sprintf("tcp/80-80 from %s (elbattach: from load balancer)", s.alb.SecurityGroup)
	if rules := s.ingress(s.inst.SecurityGroup); !cmp.Equal(rules, []string{wantRule}) {
		t.Errorf("instance ingress = %v, want %v", rules, wantRule)
	}
	if ts := s.targets(); !cmp.Equal(ts, []string{s.inst.ID + ":80"}) {
		t.Errorf("targets = %v", ts)
	}
	if len(r.Changes) != 5 || r.DryRun || r.Instance != s.inst.ID || r.Target != s.tg {
		t.Errorf("report = %+v", r)
	}

	// Replaying the same event changes nothing and reports nothing.
	before := s.world()
	for range 2 {
		r, ferr = invoke(t, fn, got[StateFn])
		if ferr != nil || len(r.Changes) != 0 {
			t.Fatalf("replay: changes %v, error %v", r.Changes, ferr)
		}
	}
	if diff := cmp.Diff(before, s.world()); diff != "" {
		t.Errorf("replay changed the world (-before +after):\n%s", diff)
	}
}

// TestTagChangeAttachesThroughTemplateRule: tagging an instance attaches it;
// a change of another tag does not reach the function.
func TestTagChangeAttachesThroughTemplateRule(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	bus, fn := newBus(t), function(t, TagFn)
	other := deliver(t, bus, "aws.tag", "Tag Change on Resource", map[string]any{
		"changed-tag-keys": []string{"Name"}, "service": "ec2", "resource-type": "instance", "version": 3,
		"tags": map[string]string{"Name": "app", "elbattach:target": s.tg}}, instanceARN(s.inst.ID))
	if len(other) != 0 {
		t.Fatalf("an unrelated tag change matched %v", keys(other))
	}
	got := deliver(t, bus, "aws.tag", "Tag Change on Resource", map[string]any{
		"changed-tag-keys": []string{"elbattach:target"}, "service": "ec2", "resource-type": "instance", "version": 4.0,
		"tags": map[string]string{"Name": "app", "elbattach:target": s.tg}}, instanceARN(s.inst.ID))
	if _, ok := got[TagFn]; !ok || len(got) != 1 {
		t.Fatalf("tag change delivered to %v, want only %s", keys(got), TagFn)
	}
	if _, ferr := invoke(t, fn, got[TagFn]); ferr != nil {
		t.Fatalf("function failed: %v", ferr)
	}
	if ts := s.targets(); len(ts) != 1 || !strings.HasPrefix(ts[0], s.inst.ID) {
		t.Errorf("targets = %v", ts)
	}
}

// TestSampleEvents runs the shipped console test events.
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	fn := function(t, StateFn)
	before := s.world()
	r, ferr := invoke(t, fn, sample(t, "manual-dry-run.json", s.inst.ID))
	if ferr != nil || !r.DryRun || len(r.Changes) != 5 || r.Targets[0].Plan == nil {
		t.Fatalf("dry run: report %+v, error %v", r, ferr)
	}
	if diff := cmp.Diff(before, s.world()); diff != "" {
		t.Errorf("dry run changed the world (-before +after):\n%s", diff)
	}
	for _, name := range []string{"instance-running.json", "manual-attach.json"} {
		if _, ferr := invoke(t, fn, sample(t, name, s.inst.ID)); ferr != nil {
			t.Fatalf("%s: %v", name, ferr)
		}
	}
	if ts := s.targets(); len(ts) != 1 {
		t.Errorf("targets = %v", ts)
	}
	tag := function(t, TagFn)
	r, ferr = invoke(t, tag, sample(t, "tag-change.json", s.inst.ID))
	if ferr != nil || len(r.Changes) != 0 {
		t.Errorf("tag-change sample after attach: changes %v, error %v", r.Changes, ferr)
	}
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
