package apply_test

import (
	"strings"
	"testing"
	"time"

	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/plan"
)

// TestNextBlock: the planned block went to another AZ's run meanwhile, so
// the next free block is created at once (no re-plan), and the change line
// says which block it was.
func TestNextBlock(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	w.AddSubnet(site.VPC, "us-east-1d", "10.0.0.64/27", fakeaws.Managed()) // another AZ's run won the block
	steps := newAZ(site, site.Instance("us-east-1c", "web"))
	steps[0].VPCCIDRs = []string{"10.0.0.0/16"}
	steps[2].ListRead = time.Now() // fresh, but the conflict shows other runs at work
	a := applier(w)
	a.TrustList = time.Minute
	done, err := a.Run(ctx, plan.Plan{Steps: steps})
	if err != nil || !strings.HasPrefix(done[0], "+ create subnet 10.0.0.96/27 in us-east-1c") {
		t.Errorf("err %v, done[0] = %q, want the next block", err, done[0])
	}
	if n := w.Count("ec2.CreateSubnet"); n != 2 {
		t.Errorf("%d CreateSubnet calls, want 2", n)
	}
	if n := w.Count("elbv2.DescribeLoadBalancers"); n != 2 {
		t.Errorf("%d DescribeLoadBalancers calls, want 2 (the list read again before SetSubnets, and read back)", n)
	}
}

// TestNextBlockAdopts: the planned block became elbattach's subnet in this
// very AZ (another run for the same AZ won): it is adopted and finished by
// the next steps, not duplicated, and its creation is not reported as ours.
func TestNextBlockAdopts(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	winner := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27", fakeaws.Managed())
	steps := newAZ(site, site.Instance("us-east-1c", "web"))
	steps[0].VPCCIDRs = []string{"10.0.0.0/16"}
	done, err := applier(w).Run(ctx, plan.Plan{Steps: steps})
	if err != nil || len(done) != 4 || strings.Contains(done[0], "create subnet") || !strings.Contains(done[0], winner) {
		t.Errorf("err %v, done %q", err, done)
	}
	if z := w.LBZones(site.LB); z["us-east-1c"] != winner {
		t.Errorf("load balancer AZs %v, want %s in us-east-1c", z, winner)
	}
	if n := w.Count("ec2.CreateSubnet"); n != 1 {
		t.Errorf("%d CreateSubnet calls", n)
	}
}
