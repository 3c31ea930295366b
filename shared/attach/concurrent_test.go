package attach_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/fakeaws"
)

// TestConcurrentAttach: 50 runs at once attach 50 instances spread over the
// three AZs the load balancer lacks. They race for the same CIDR blocks and
// overwrite each other's SetSubnets; each run goes round again when it
// notices, and a run that still fails is retried as Lambda retries an
// asynchronous invocation (twice). In the end every AZ has exactly one new
// subnet, routed and on the load balancer, every instance is registered, and
// the instance group has one rule.
func TestConcurrentAttach(t *testing.T) {
	const runs, lambdaAttempts = 50, 3
	site := fakeaws.NewSite()
	w := site.W
	azs := []string{"us-east-1c", "us-east-1d", "us-east-1e"}
	ids := make([]string, runs)
	for i := range ids {
		ids[i] = site.Instance(azs[i%len(azs)], "web")
	}
	// Every call takes up to 2 ms, so that the runs interleave as they do
	// against AWS; they all start at once.
	w.OnCall("*", func() { time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) })
	start := make(chan struct{})
	var mu sync.Mutex
	retried := map[string]string{}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			<-start
			var err error
			for attempt := 1; attempt <= lambdaAttempts; attempt++ {
				// a Settle well above the fake's write latency, as one second is in AWS
				_, err = pipeline(w, 20*time.Millisecond).Run(ctx, event.Trigger{InstanceID: id, Action: event.Attach, Origin: "aws.ec2 running"})
				if err == nil {
					return
				}
				mu.Lock()
				retried[id] = err.Error()
				mu.Unlock()
			}
			t.Errorf("%s: failed %d times: %v", id, lambdaAttempts, err)
		})
	}
	close(start)
	wg.Wait()
	for id, err := range retried {
		t.Logf("retried %s after: %s", id, err)
	}

	zones := w.LBZones(site.LB)
	if len(zones) != 5 {
		t.Errorf("load balancer AZs %v, want 5", zones)
	}
	perAZ := map[string][]string{}
	for _, s := range w.Subnets(site.VPC) {
		if s.Tags[config.ManagedTagKey] == "true" {
			perAZ[s.AZ] = append(perAZ[s.AZ], s.ID)
		}
	}
	for _, az := range azs {
		got := perAZ[az]
		if len(got) != 1 {
			t.Errorf("%s: new subnets %v, want exactly one", az, got)
			continue
		}
		if zones[az] != got[0] || w.RouteTableOf(got[0]) != site.PublicRT {
			t.Errorf("%s: subnet %s on the load balancer as %q, route table %s", az, got[0], zones[az], w.RouteTableOf(got[0]))
		}
	}
	registered := map[string]bool{}
	for _, tg := range w.TargetGroup(site.TG).Targets {
		if registered[tg.ID] {
			t.Errorf("%s registered twice", tg.ID)
		}
		registered[tg.ID] = tg.Port == 80
	}
	for _, id := range ids {
		if !registered[id] {
			t.Errorf("%s not registered on port 80", id)
		}
	}
	if rules := w.SecurityGroup(site.AppGroup).Ingress; len(rules) != 1 || rules[0].Group != site.LBGroup || rules[0].From != 80 {
		t.Errorf("instance group rules: %+v", rules)
	}
	counts := map[string]int{}
	for _, c := range w.Calls() {
		counts[c]++
	}
	t.Logf("%d runs (%d retried): CreateSubnet %d, AssociateRouteTable %d, SetSubnets %d, AuthorizeSecurityGroupIngress %d, RegisterTargets %d",
		runs, len(retried), counts["ec2.CreateSubnet"], counts["ec2.AssociateRouteTable"], counts["elbv2.SetSubnets"],
		counts["ec2.AuthorizeSecurityGroupIngress"], counts["elbv2.RegisterTargets"])
	if counts["elbv2.RegisterTargets"] < runs {
		t.Error(fmt.Sprint("fewer RegisterTargets than runs: ", counts["elbv2.RegisterTargets"]))
	}
}
