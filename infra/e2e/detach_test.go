package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/plan"
)

// TestDetach: a stop, a removed tag or a manual detach deregisters the
// instance (moto keeps a stopped instance registered, so what is asserted is
// our deregistration); subnets and rules stay.
func TestDetach(t *testing.T) {
	t.Parallel()
	t.Run("stopped state through the template rule", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		fn := function(t, StateFn)
		attachOK(t, s)
		kept := s.world()
		if _, err := s.ec2.StopInstances(s.ctx, &ec2.StopInstancesInput{InstanceIds: []string{s.inst.ID}}); err != nil {
			t.Fatal(err)
		}
		bus := newBus(t)
		got := deliver(t, bus, "aws.ec2", "EC2 Instance State-change Notification",
			map[string]string{"instance-id": s.inst.ID, "state": "stopped"}, instanceARN(s.inst.ID))
		if _, ok := got[StateFn]; !ok {
			t.Fatalf("stopped state not delivered: %v", keys(got))
		}
		r, ferr := invoke(t, fn, got[StateFn])
		if ferr != nil {
			t.Fatal(ferr)
		}
		if ts := s.targets(); len(ts) != 0 {
			t.Errorf("targets after stop = %v, want none", ts)
		}
		if !slices.Contains(r.Targets[0].Notes, plan.KeptNote) || len(r.Changes) != 1 {
			t.Errorf("report = %+v", r)
		}
		after := s.world()
		if !cmp.Equal(kept.Subnets, after.Subnets) || !cmp.Equal(kept.Ingress, after.Ingress) || !cmp.Equal(kept.LBSubnets, after.LBSubnets) {
			t.Errorf("detach touched subnets or rules:\n%v\n%v", kept, after)
		}
		// A late "running" for the now stopped instance is stale, not an error.
		r, ferr = invoke(t, fn, sample(t, "instance-running.json", s.inst.ID))
		if ferr != nil || !strings.Contains(r.Skipped, "is stopped now") {
			t.Errorf("late running: %+v %v", r, ferr)
		}
		// Replaying the stop changes nothing.
		r, ferr = invoke(t, fn, got[StateFn])
		if ferr != nil || len(r.Changes) != 0 {
			t.Errorf("replayed stop: changes %v, error %v", r.Changes, ferr)
		}
	})
	t.Run("tag removed: the managed targets the instance is in", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		attachOK(t, s)
		if _, err := s.ec2.DeleteTags(s.ctx, &ec2.DeleteTagsInput{Resources: []string{s.inst.ID},
			Tags: []ec2types.Tag{{Key: aws.String("elbattach:target")}}}); err != nil {
			t.Fatal(err)
		}
		bus := newBus(t)
		got := deliver(t, bus, "aws.tag", "Tag Change on Resource", map[string]any{
			"changed-tag-keys": []string{"elbattach:target"}, "service": "ec2", "resource-type": "instance", "version": 3,
			"tags": map[string]string{"Name": "app"}}, instanceARN(s.inst.ID))
		if _, ok := got[TagFn]; !ok {
			t.Fatalf("tag removal not delivered: %v", keys(got))
		}
		r, ferr := invoke(t, function(t, TagFn), got[TagFn])
		if ferr != nil {
			t.Fatal(ferr)
		}
		if ts := s.targets(); len(ts) != 0 || r.Action != "detach" {
			t.Errorf("targets after tag removal = %v, report %+v", ts, r)
		}
	})
	t.Run("manual detach, on the port it is registered on", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		retag(t, s, s.tg+"@8080")
		attachOK(t, s)
		r, ferr := invoke(t, function(t, StateFn), sample(t, "manual-detach.json", s.inst.ID))
		if ferr != nil {
			t.Fatal(ferr)
		}
		if ts := s.targets(); len(ts) != 0 {
			t.Errorf("targets = %v, want none (report %v)", ts, r.Changes)
		}
	})
	t.Run("Classic ELB", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		name := classicELB(t, s)
		retag(t, s, "classic/"+name)
		attachOK(t, s)
		r, ferr := invoke(t, function(t, StateFn), manual(s.inst.ID, "detach", false))
		if ferr != nil || len(r.Changes) != 1 || !strings.Contains(r.Changes[0], "deregister") {
			t.Errorf("classic detach: %+v %v", r, ferr)
		}
	})
}
