package e2e

import (
	"context"
	"testing"

	"github.com/elbattach/elbattach/infra/localaws"
)

func total(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

// TestCallBudget counts the AWS calls one event costs, as the function
// reports them (an SDK middleware counts every attempt).
func TestCallBudget(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	fn := function(t, StateFn)
	event := sample(t, "instance-running.json", s.inst.ID)
	first, ferr := invoke(t, fn, event)
	if ferr != nil {
		t.Fatal(ferr)
	}
	cold, _ := invoke(t, function(t, StateFn), event) // a new container
	invoke(t, fn, event)                              // the first run changed the target: its container read it afresh
	warm, _ := invoke(t, fn, event)
	t.Logf("first attach in a new AZ: %d calls %v", total(first.Calls), first.Calls)
	t.Logf("steady state, warm container: %d calls %v", total(warm.Calls), warm.Calls)
	t.Logf("steady state, cold container: %d calls %v", total(cold.Calls), cold.Calls)
	// new AZ: the 12 the job needs, the ACL and listener checks, the read-back after SetSubnets (and the outcome event)
	if n := total(first.Calls) - first.Calls["EventBridge.PutEvents"]; n > 15 {
		t.Errorf("first attach in a new AZ: %d calls, budget 15", n)
	}
	if n := total(warm.Calls); n > 3 {
		t.Errorf("warm steady state: %d calls, budget 3", n)
	}
	if n := total(cold.Calls); n > 5 {
		t.Errorf("cold steady state: %d calls, budget 5", n)
	}
	// A target group listed in ALLOWED_TARGETS is allowed whatever its tags: they are not read.
	listed, _ := invoke(t, function(t, StateFn, "ALLOWED_TARGETS="+s.tg), event)
	t.Logf("steady state, cold container, target in ALLOWED_TARGETS: %d calls %v", total(listed.Calls), listed.Calls)
	if n := total(listed.Calls); n > 4 || listed.Calls["Elastic Load Balancing v2.DescribeTags"] != 0 {
		t.Errorf("cold steady state, listed target: %d calls %v, budget 4 without DescribeTags", n, listed.Calls)
	}
	other := newScenario(t, nil)
	newAZ, ferr := invoke(t, function(t, StateFn, "ALLOWED_TARGETS="+other.tg), sample(t, "instance-running.json", other.inst.ID))
	if n := total(newAZ.Calls) - newAZ.Calls["EventBridge.PutEvents"]; ferr != nil || n > 14 {
		t.Errorf("first attach in a new AZ, listed target: %d calls %v (%v), budget 14", n, newAZ.Calls, ferr)
	}
	// A warm container, as in a scale-out: it registered an instance of the
	// group in a covered AZ just before; then the first instance in a new AZ
	// reads neither the target group, its tags, the listeners nor the
	// network ACLs again (the load balancer is read again before anything
	// changes).
	warmed := newScenario(t, func(o *options) { o.vpc.PrivateSubnets["a"] = []string{"10.0.4.0/24"} })
	covered, err := localaws.NewInstance(context.Background(), awsCfg, localaws.InstanceSpec{VPC: warmed.vpc, SubnetCIDR: "10.0.4.0/24",
		Tags: map[string]string{"Name": "app", warmed.tagKey: warmed.tg}})
	if err != nil {
		t.Fatal(err)
	}
	wfn := function(t, StateFn)
	if r, ferr := invoke(t, wfn, sample(t, "instance-running.json", covered.ID)); ferr != nil || len(r.Changes) != 2 {
		t.Fatalf("covered AZ: changes %q, error %v", r.Changes, ferr)
	}
	// The next instance of the scale-out, in the same (open) group and AZ:
	// the target group, its tags, the listeners and the VPC's network come
	// from the container's cache; the load balancer is read again before
	// the registration, whose health is read after it.
	next, err := localaws.NewInstance(context.Background(), awsCfg, localaws.InstanceSpec{VPC: warmed.vpc, SubnetCIDR: "10.0.4.0/24",
		SecurityGroup: covered.SecurityGroup, Tags: map[string]string{"Name": "app", warmed.tagKey: warmed.tg}})
	if err != nil {
		t.Fatal(err)
	}
	scaleOut, ferr := invoke(t, wfn, sample(t, "instance-running.json", next.ID))
	t.Logf("scale-out launch, warm container: %d calls %v", total(scaleOut.Calls), scaleOut.Calls)
	if n := total(scaleOut.Calls) - scaleOut.Calls["EventBridge.PutEvents"]; ferr != nil || len(scaleOut.Changes) != 1 || n > 6 {
		t.Errorf("scale-out launch, warm container: %d calls %v, changes %q (%v), budget 6", n, scaleOut.Calls, scaleOut.Changes, ferr)
	}
	warmNew, ferr := invoke(t, wfn, sample(t, "instance-running.json", warmed.inst.ID))
	t.Logf("first attach in a new AZ, warm container: %d calls %v", total(warmNew.Calls), warmNew.Calls)
	for _, op := range []string{"Elastic Load Balancing v2.DescribeTargetGroups", "Elastic Load Balancing v2.DescribeTags",
		"Elastic Load Balancing v2.DescribeListeners", "EC2.DescribeNetworkAcls"} {
		if warmNew.Calls[op] != 0 {
			t.Errorf("first attach in a new AZ, warm container: %s read again", op)
		}
	}
	if n := total(warmNew.Calls) - warmNew.Calls["EventBridge.PutEvents"]; ferr != nil || len(warmNew.Changes) != 5 || n > 11 {
		t.Errorf("first attach in a new AZ, warm container: %d calls %v, changes %q (%v), budget 11", n, warmNew.Calls, warmNew.Changes, ferr)
	}
	untagged := newScenario(t, func(o *options) { o.noTag = true })
	r, ferr := invoke(t, fn, sample(t, "instance-running.json", untagged.inst.ID))
	if ferr != nil || r.Skipped == "" || total(r.Calls) != 1 {
		t.Errorf("untagged launch: %d calls %v, skipped %q, error %v", total(r.Calls), r.Calls, r.Skipped, ferr)
	}
}
