package apply_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/plan"
)

// addC is the step adding subnet (in us-east-1c) to the Site's ALB, with the
// list the plan saw.
func addC(site *fakeaws.Site, subnet string) plan.Step {
	return plan.Step{Op: plan.AddSubnet, Subnet: subnet, AZ: "us-east-1c", LoadBalancer: site.LB, LoadBalancerType: "application",
		Subnets: []string{site.Public["us-east-1a"], site.Public["us-east-1b"], subnet}}
}

// TestSetSubnetsReadsFresh: a subnet another run added between the plan and
// the apply is kept (the plan's list is not what is sent).
func TestSetSubnetsReadsFresh(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	c, d := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27"), w.AddSubnet(site.VPC, "us-east-1d", "10.0.0.96/27")
	step := addC(site, c)
	w.SetLBSubnets(site.LB, site.Public["us-east-1a"], site.Public["us-east-1b"], d) // the other run
	run(t, w, step)
	want := map[string]string{"us-east-1a": site.Public["us-east-1a"], "us-east-1b": site.Public["us-east-1b"], "us-east-1c": c, "us-east-1d": d}
	if diff := cmp.Diff(want, w.LBZones(site.LB)); diff != "" {
		t.Errorf("load balancer AZs (-want +got):\n%s", diff)
	}
	if got := w.Inputs("elbv2.SetSubnets")[0].(*elbv2.SetSubnetsInput).Subnets; len(got) != 4 {
		t.Errorf("SetSubnets %v, want four subnets", got)
	}
}

// TestSetSubnetsFreshPlan: a list the plan read less than half a settle
// delay ago is written as it is; only the read-back reads the load balancer.
func TestSetSubnetsFreshPlan(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	c := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27")
	step := addC(site, c)
	a := applier(w)
	a.Settle, step.ListRead = 200*time.Millisecond, time.Now()
	if _, err := a.Run(ctx, plan.Plan{Steps: []plan.Step{step}}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w, "elbv2.SetSubnets", "elbv2.DescribeLoadBalancers")
	if w.LBZones(site.LB)["us-east-1c"] != c {
		t.Errorf("load balancer AZs: %v", w.LBZones(site.LB))
	}
	// A list as old as half the settle delay is read again first.
	w.SetLBSubnets(site.LB, site.Public["us-east-1a"], site.Public["us-east-1b"])
	w.ResetCalls()
	step.ListRead = time.Now().Add(-100 * time.Millisecond)
	if _, err := a.Run(ctx, plan.Plan{Steps: []plan.Step{step}}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w, "elbv2.DescribeLoadBalancers", "elbv2.SetSubnets", "elbv2.DescribeLoadBalancers")
}

// TestSetSubnetsRetryReadsAgain: a SetSubnets throttled is tried again from
// a fresh read (here another run added us-east-1d meanwhile, and it is
// kept), not resent by the SDK with the old list; one that failed after it
// landed (a dropped response) is found done by that read, and still read
// back after the settle delay.
func TestSetSubnetsRetryReadsAgain(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	c, d := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27"), w.AddSubnet(site.VPC, "us-east-1d", "10.0.0.96/27")
	step := addC(site, c)
	step.ListRead = time.Now()
	w.FailNext("elbv2.SetSubnets", fakeaws.Err("Throttling", "Rate exceeded"))
	w.OnCall("elbv2.SetSubnets", func() {
		if w.LBZones(site.LB)["us-east-1d"] == "" {
			w.SetLBSubnets(site.LB, site.Public["us-east-1a"], site.Public["us-east-1b"], d) // the other run
		}
	})
	if done := run(t, w, step); len(done) != 1 {
		t.Fatalf("done %q", done)
	}
	wantCalls(t, w, "elbv2.SetSubnets", "elbv2.DescribeLoadBalancers", "elbv2.SetSubnets", "elbv2.DescribeLoadBalancers")
	if z := w.LBZones(site.LB); z["us-east-1c"] != c || z["us-east-1d"] != d {
		t.Errorf("load balancer AZs: %v", z)
	}

	w2 := fakeaws.NewSite()
	c2 := w2.W.AddSubnet(w2.VPC, "us-east-1c", "10.0.0.64/27")
	step = addC(w2, c2)
	step.ListRead = time.Now()
	var once sync.Once
	w2.W.OnCall("elbv2.SetSubnets", func() {
		once.Do(func() { w2.W.SetLBSubnets(w2.LB, w2.Public["us-east-1a"], w2.Public["us-east-1b"], c2) }) // it landed...
	})
	w2.W.FailNext("elbv2.SetSubnets", fakeaws.Err("RequestTimeout", "...but its response was lost"))
	if done := run(t, w2.W, step); len(done) != 1 {
		t.Fatalf("landed write: done %q", done)
	}
	wantCalls(t, w2.W, "elbv2.SetSubnets", "elbv2.DescribeLoadBalancers", "elbv2.DescribeLoadBalancers")
}

// TestSetSubnetsLostUpdate: another run's SetSubnets, with a list read
// before ours, lands after ours; the read-back sees the subnet gone and
// returns ErrStale, and going round again adds it back.
func TestSetSubnetsLostUpdate(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	c, d := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27"), w.AddSubnet(site.VPC, "us-east-1d", "10.0.0.96/27")
	var once sync.Once
	w.AfterCall("elbv2.SetSubnets", func() {
		once.Do(func() { w.SetLBSubnets(site.LB, site.Public["us-east-1a"], site.Public["us-east-1b"], d) })
	})
	done, err := applier(w).Run(ctx, plan.Plan{Steps: []plan.Step{addC(site, c)}})
	if !errors.Is(err, apply.ErrStale) || !strings.Contains(err.Error(), "dropped "+c) || len(done) != 0 {
		t.Fatalf("err %v, done %q; want ErrStale naming %s", err, done, c)
	}
	if w.LBZones(site.LB)["us-east-1c"] != "" {
		t.Fatal("the lost update did not happen")
	}
	wantCalls(t, w, "elbv2.DescribeLoadBalancers", "elbv2.SetSubnets", "elbv2.DescribeLoadBalancers")
	run(t, w, addC(site, c))
	if z := w.LBZones(site.LB); z["us-east-1c"] != c || z["us-east-1d"] != d {
		t.Errorf("second round: %v", z)
	}
}

// TestSetSubnetsReadBackFails: a SetSubnets that landed, whose read-back
// then failed, is among the lines of what was done (a reviewer's case: the
// report said nothing changed while the load balancer had).
func TestSetSubnetsReadBackFails(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	c := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27")
	w.AfterCall("elbv2.SetSubnets", func() { w.FailNext("elbv2.DescribeLoadBalancers", fakeaws.Err("Throttling", "slow down")) })
	done, err := applier(w).Run(ctx, plan.Plan{Steps: []plan.Step{addC(site, c)}})
	if err == nil || len(done) != 1 || !strings.HasPrefix(done[0], "~ add subnet "+c) || w.LBZones(site.LB)["us-east-1c"] != c {
		t.Errorf("err %v, done %q, zones %v: want the write reported with the read-back's error", err, done, w.LBZones(site.LB))
	}
}

// TestSetSubnetsAZTaken: the load balancer got another subnet in the AZ
// meanwhile: ErrStale, and no SetSubnets.
func TestSetSubnetsAZTaken(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	c, c2 := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27"), w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.96/27")
	w.SetLBSubnets(site.LB, site.Public["us-east-1a"], site.Public["us-east-1b"], c2)
	_, err := applier(w).Run(ctx, plan.Plan{Steps: []plan.Step{addC(site, c)}})
	if !errors.Is(err, apply.ErrStale) || w.Count("elbv2.SetSubnets") != 0 {
		t.Errorf("err %v, SetSubnets calls %d", err, w.Count("elbv2.SetSubnets"))
	}
}

// TestSetSubnetsRefused: a subnet with fewer than 8 free addresses is
// refused by AWS; that is an error, not a reason to go round again.
func TestSetSubnetsRefused(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	c := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27", fakeaws.InUse(20))
	_, err := applier(w).Run(ctx, plan.Plan{Steps: []plan.Step{addC(site, c)}})
	if !awserr.Is(err, awserr.InvalidSubnet) || errors.Is(err, apply.ErrStale) {
		t.Errorf("err %v, want InvalidSubnet", err)
	}
}

// TestStepKinds runs each remaining kind of step on its own and checks the
// calls and the world after it.
func TestStepKinds(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	w.AddClassicLB("legacy", fakeaws.Subnets(site.Public["us-east-1a"]), fakeaws.Groups(site.LBGroup), fakeaws.ClassicPort(80, 8080), fakeaws.Allowed())
	ipTG := w.AddTargetGroup(site.VPC, "ips", 80, fakeaws.TargetType("ip"), fakeaws.Allowed())
	id := site.Instance("us-east-1a", "web")
	ip := w.Instance(id).PrivateIP
	acl := w.DefaultNACL(site.VPC)
	tests := []struct {
		name  string
		step  plan.Step
		calls []string
		check func() bool
	}{{
		name:  "ingress from a CIDR",
		step:  plan.Step{Op: plan.AuthorizeIngress, Group: site.AppGroup, SourceCIDR: "10.0.0.0/16", Protocol: "tcp", Port: 8080, Description: "hc"},
		calls: []string{"ec2.AuthorizeSecurityGroupIngress"},
		check: func() bool {
			return cmp.Equal(w.SecurityGroup(site.AppGroup).Ingress, []fakeaws.Rule{{Protocol: "tcp", From: 8080, To: 8080, CIDR: "10.0.0.0/16", Description: "hc"}})
		},
	}, {
		name:  "egress to the instance group",
		step:  plan.Step{Op: plan.AuthorizeEgress, Group: site.LBGroup, DestGroup: site.AppGroup, Protocol: "tcp", Port: 80, Description: plan.EgressDescription},
		calls: []string{"ec2.AuthorizeSecurityGroupEgress"},
		check: func() bool { return len(w.SecurityGroup(site.LBGroup).Egress) == 2 },
	}, {
		name:  "network ACL entry",
		step:  plan.Step{Op: plan.AddNACLEntry, NACL: acl, RuleNumber: 1, Egress: true, Protocol: "6", FromPort: 1024, ToPort: 65535, SourceCIDR: "0.0.0.0/0"},
		calls: []string{"ec2.CreateNetworkAclEntry"},
		check: func() bool {
			return len(w.NACL(acl).Entries) == 3 && w.NACL(acl).Entries[2] == fakeaws.NACLEntry{Number: 1, Egress: true, Protocol: "6", CIDR: "0.0.0.0/0", From: 1024, To: 65535, Allow: true}
		},
	}, {
		name:  "register an IP",
		step:  plan.Step{Op: plan.Register, TargetGroup: ipTG, TargetID: ip, Port: 80},
		calls: []string{"elbv2.RegisterTargets"},
		check: func() bool { return len(w.TargetGroup(ipTG).Targets) == 1 },
	}, {
		name:  "deregister an IP",
		step:  plan.Step{Op: plan.Deregister, TargetGroup: ipTG, TargetID: ip, Port: 80},
		calls: []string{"elbv2.DeregisterTargets"},
		check: func() bool { return len(w.TargetGroup(ipTG).Targets) == 0 },
	}, {
		name:  "add a subnet to a Classic ELB",
		step:  plan.Step{Op: plan.AddSubnet, Subnet: site.Public["us-east-1b"], AZ: "us-east-1b", LoadBalancer: "legacy", LoadBalancerType: "classic"},
		calls: []string{"elb.DescribeLoadBalancers", "elb.AttachLoadBalancerToSubnets"},
		check: func() bool { return len(w.LBZones("legacy")) == 2 },
	}, {
		name:  "register with a Classic ELB",
		step:  plan.Step{Op: plan.Register, LoadBalancer: "legacy", LoadBalancerType: "classic", TargetID: id},
		calls: []string{"elb.RegisterInstancesWithLoadBalancer"},
		check: func() bool { return cmp.Equal(w.ClassicLB("legacy").Instances, []string{id}) },
	}, {
		name:  "deregister from a Classic ELB",
		step:  plan.Step{Op: plan.Deregister, LoadBalancer: "legacy", LoadBalancerType: "classic", TargetID: id},
		calls: []string{"elb.DeregisterInstancesFromLoadBalancer"},
		check: func() bool { return len(w.ClassicLB("legacy").Instances) == 0 },
	}}
	for _, tc := range tests {
		w.ResetCalls()
		done, err := applier(w).Run(ctx, plan.Plan{Steps: []plan.Step{tc.step}})
		if err != nil || len(done) != 1 || done[0] != tc.step.String() {
			t.Errorf("%s: %v, done %q", tc.name, err, done)
		}
		if !cmp.Equal(w.Calls(), tc.calls) {
			t.Errorf("%s: calls %v, want %v", tc.name, w.Calls(), tc.calls)
		}
		if !tc.check() {
			t.Errorf("%s: the world is not as expected:\n%s", tc.name, w.Dump())
		}
	}
	// Gone already: deregistering again changes nothing and is no error.
	w.ResetCalls()
	if done := run(t, w, plan.Step{Op: plan.Deregister, TargetGroup: ipTG, TargetID: ip, Port: 80}); len(done) != 1 {
		t.Errorf("deregistering an absent target: %q", done)
	}
	if _, err := applier(w).Run(ctx, plan.Plan{Steps: []plan.Step{{Op: plan.Deregister, TargetGroup: site.TG, TargetID: "i-0000000000000ffff", Port: 80}}}); err != nil {
		t.Errorf("deregistering an unknown instance: %v", err)
	}
}

// TestClassicFreshPlan: a Classic ELB's subnet is attached without a read
// when the plan's view is fresh; AWS itself refuses a second subnet in an AZ
// taken meanwhile, and that sends the caller round again.
func TestClassicFreshPlan(t *testing.T) {
	site := fakeaws.NewSite()
	w := site.W
	w.AddClassicLB("legacy", fakeaws.Subnets(site.Public["us-east-1a"]), fakeaws.Groups(site.LBGroup), fakeaws.ClassicPort(80, 8080), fakeaws.Allowed())
	step := plan.Step{Op: plan.AddSubnet, Subnet: site.Public["us-east-1b"], AZ: "us-east-1b", LoadBalancer: "legacy", LoadBalancerType: "classic",
		ListRead: time.Now()}
	a := applier(w)
	a.TrustList = time.Minute
	if _, err := a.Run(ctx, plan.Plan{Steps: []plan.Step{step}}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, w, "elb.AttachLoadBalancerToSubnets")
	other := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.64/27")
	w.AddRouteTable(site.VPC, site.IGW, fakeaws.Subnets(other))
	w.ResetCalls()
	mine := w.AddSubnet(site.VPC, "us-east-1c", "10.0.0.96/27")
	if _, err := a.Run(ctx, plan.Plan{Steps: []plan.Step{{Op: plan.AddSubnet, Subnet: other, AZ: "us-east-1c", LoadBalancer: "legacy", LoadBalancerType: "classic", ListRead: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	_, err := a.Run(ctx, plan.Plan{Steps: []plan.Step{{Op: plan.AddSubnet, Subnet: mine, AZ: "us-east-1c", LoadBalancer: "legacy", LoadBalancerType: "classic", ListRead: time.Now()}}})
	if !errors.Is(err, apply.ErrStale) {
		t.Errorf("AZ taken meanwhile: %v, want ErrStale", err)
	}
}
