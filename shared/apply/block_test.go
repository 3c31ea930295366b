package apply_test

import (
	"slices"
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

// TestNextBlockRulesFollow: the rules the plan wrote for the block it meant
// to create (an NLB's nodes into the instance's group, network ACL entries)
// open the subnet made or adopted instead, when that one has another block;
// a rule for any other CIDR stays as planned (a reviewer's case: the next
// free block was created and the rules opened the other AZ's subnet).
func TestNextBlockRulesFollow(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		setup      func(site *fakeaws.Site)
	}{
		{"next free block", "10.0.0.96/27", func(site *fakeaws.Site) {
			site.W.AddSubnet(site.VPC, "us-east-1d", "10.0.0.64/27", fakeaws.Managed()) // another AZ's run won the block
		}},
		{"adopted at another block", "10.0.0.128/27", func(site *fakeaws.Site) {
			site.W.AddSubnet(site.VPC, "us-east-1d", "10.0.0.64/27", fakeaws.Managed())
			site.W.AddSubnet(site.VPC, "us-east-1c", "10.0.0.128/27", fakeaws.Managed()) // this AZ's, read at another moment
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := fakeaws.NewSite()
			w := site.W
			tc.setup(site)
			acl := w.DefaultNACL(site.VPC)
			steps := newAZ(site, site.Instance("us-east-1c", "web"))
			steps[0].VPCCIDRs = []string{"10.0.0.0/16"}
			steps[3] = plan.Step{Op: plan.AuthorizeIngress, Group: site.AppGroup, SourceCIDR: "10.0.0.64/27", Protocol: "tcp", Port: 80, Description: plan.RuleDescription}
			steps = append(steps,
				plan.Step{Op: plan.AuthorizeIngress, Group: site.AppGroup, SourceCIDR: "10.0.0.0/27", Protocol: "tcp", Port: 80, Description: plan.RuleDescription},
				plan.Step{Op: plan.AddNACLEntry, NACL: acl, RuleNumber: 1, Protocol: "6", FromPort: 80, ToPort: 80, SourceCIDR: "10.0.0.64/27"})
			done, err := applier(w).Run(ctx, plan.Plan{Steps: steps})
			if err != nil {
				t.Fatalf("Run: %v (done %q)", err, done)
			}
			var from []string
			for _, r := range w.SecurityGroup(site.AppGroup).Ingress {
				from = append(from, r.CIDR)
			}
			if !slices.Contains(from, tc.want) || slices.Contains(from, "10.0.0.64/27") || !slices.Contains(from, "10.0.0.0/27") {
				t.Errorf("ingress from %q: want %s and 10.0.0.0/27, not 10.0.0.64/27", from, tc.want)
			}
			if e := w.NACL(acl).Entries; !slices.ContainsFunc(e, func(e fakeaws.NACLEntry) bool { return e.Number == 1 && e.CIDR == tc.want }) {
				t.Errorf("network ACL entries %+v: want rule 1 from %s", e, tc.want)
			}
			if !slices.Contains(done, "+ allow tcp/80 into "+site.AppGroup+" from "+tc.want) {
				t.Errorf("done %q: the change line names the planned block", done)
			}
		})
	}
}

// TestNextBlockAdoptsOnlyUnseen: after a conflict, a subnet of elbattach's in
// the AZ that the plan saw, and so turned down (here: associated with a
// private route table since), is not adopted; the next free block is created
// (a reviewer's case: the private subnet went onto the load balancer).
func TestNextBlockAdoptsOnlyUnseen(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	turnedDown := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.128/27", fakeaws.Managed())
	w.Associate(site.PrivRT, turnedDown)
	w.AddSubnet(site.VPC, "us-east-1d", "10.0.0.64/27", fakeaws.Managed()) // another AZ's run won the planned block
	steps := newAZ(site, site.Instance("us-east-1c", "web"))
	steps[0].VPCCIDRs, steps[0].Seen = []string{"10.0.0.0/16"}, []string{site.Private["us-east-1c"], turnedDown}
	done, err := applier(w).Run(ctx, plan.Plan{Steps: steps})
	if err != nil || !strings.HasPrefix(done[0], "+ create subnet 10.0.0.96/27 in us-east-1c") {
		t.Fatalf("err %v, done %q: want the next block created", err, done)
	}
	if z := w.LBZones(site.LB)["us-east-1c"]; z == turnedDown || w.RouteTableOf(z) != site.PublicRT {
		t.Errorf("load balancer's us-east-1c subnet %s (route table %s): want the new one, public", z, w.RouteTableOf(z))
	}
}
