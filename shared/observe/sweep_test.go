package observe_test

import (
	"fmt"
	"slices"
	"testing"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/fakeaws"
)

// TestManagedTargets: the sweep describes the tags of the VPC's 45 target
// groups in batches of 20 (AWS takes no more), reads the registrations of
// the managed ones only, and finds the instance where it is registered.
func TestManagedTargets(t *testing.T) {
	w := fakeaws.New()
	vpc := w.AddVPC("10.0.0.0/16")
	sub := w.AddSubnet(vpc, "us-east-1a", "10.0.0.0/24")
	id := w.AddInstance(sub)
	other := w.AddVPC("10.1.0.0/16")
	for i := range 5 {
		w.AddTargetGroup(other, fmt.Sprintf("other-%d", i), 80, fakeaws.Allowed())
	}
	arns := map[string]string{}
	for i := range 45 {
		name := fmt.Sprintf("tg-%02d", i)
		var opts []fakeaws.Option
		if i%3 == 0 {
			opts = append(opts, fakeaws.Allowed())
		}
		arns[name] = w.AddTargetGroup(vpc, name, 80, opts...)
	}
	w.Register(arns["tg-03"], id, 0)    // tagged
	w.Register(arns["tg-04"], id, 0)    // not managed
	w.Register(arns["tg-05"], id, 0)    // in ALLOWED_TARGETS
	w.Register(arns["tg-06"], id, 8080) // tagged, another port
	cfg := config.Default()
	cfg.AllowedTargets = []string{"tg-05"}

	o := observer(w)
	in, err := o.Instance(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	w.ResetCalls()
	found, err := o.ManagedTargets(ctx, in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range found {
		names = append(names, fmt.Sprintf("%s:%d", m.Target.Name, m.Target.Registrations[0].Port))
	}
	if want := []string{"tg-03:80", "tg-05:80", "tg-06:8080"}; !cmp.Equal(names, want) {
		t.Errorf("found %v, want %v", names, want)
	}
	var batches []int
	for _, in := range w.Inputs("elbv2.DescribeTags") {
		batches = append(batches, len(in.(*elbv2.DescribeTagsInput).ResourceArns))
	}
	if want := []int{20, 20, 5}; !cmp.Equal(batches, want) {
		t.Errorf("DescribeTags batches %v, want %v", batches, want)
	}
	counts := map[string]int{}
	for _, c := range w.Calls() {
		counts[c]++
	}
	want := map[string]int{"elbv2.DescribeTargetGroups": 1, "elbv2.DescribeTags": 3, "elbv2.DescribeTargetHealth": 16, "elb.DescribeLoadBalancers": 1}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if got := w.Calls(); got[0] != "elbv2.DescribeTargetGroups" || !slices.Equal(got[1:2], []string{"elbv2.DescribeTags"}) {
		t.Errorf("the sweep does not start with the list and a tag batch: %v", got[:2])
	}
}

// TestManagedClassic: a Classic ELB of the VPC holding the instance is found
// when it is opted in.
func TestManagedClassic(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	for _, name := range []string{"legacy", "untagged"} {
		opts := []fakeaws.Option{fakeaws.Subnets(site.Public["us-east-1a"]), fakeaws.Groups(site.LBGroup), fakeaws.ClassicPort(80, 80)}
		if name == "legacy" {
			opts = append(opts, fakeaws.Allowed())
		}
		w.AddClassicLB(name, opts...)
	}
	id := site.Instance("us-east-1a", "")
	w.RegisterClassic("legacy", id)
	w.RegisterClassic("untagged", id)
	o := observer(w)
	in, _ := o.Instance(ctx, id)
	found, err := o.ManagedTargets(ctx, in, config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Target.Name != "legacy" || found[0].LoadBalancer.Type != "classic" {
		t.Errorf("found %+v", found)
	}
}
