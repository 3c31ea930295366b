package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/infra/localaws"
)

// TestSubnetChoice covers how the public subnet in the instance's AZ is found
// or made, each through the real bootstrap and asserted in moto.
func TestSubnetChoice(t *testing.T) {
	t.Parallel()
	t.Run("AZ already covered: no new subnet, no SetSubnets", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) {
			o.vpc.PublicSubnets["c"] = "10.0.5.0/24"
			o.alb.SubnetCIDRs = append(o.alb.SubnetCIDRs, "10.0.5.0/24")
		})
		subnets := len(s.world().Subnets)
		r, ferr := invoke(t, function(t, StateFn), manual(s.inst.ID, "attach", false))
		if ferr != nil {
			t.Fatal(ferr)
		}
		if r.Calls["Elastic Load Balancing v2.SetSubnets"] != 0 || r.Calls["EC2.CreateSubnet"] != 0 || hasChange(r, "subnet") {
			t.Errorf("calls %v, changes %v: want no subnet work", r.Calls, r.Changes)
		}
		if got := len(s.world().Subnets); got != subnets {
			t.Errorf("subnets %d -> %d", subnets, got)
		}
		if ts := s.targets(); len(ts) != 1 {
			t.Errorf("targets = %v", ts)
		}
	})
	t.Run("usable public subnet in the AZ is reused", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) { o.vpc.PublicSubnets["c"] = "10.0.7.0/26" })
		r, ferr := invoke(t, function(t, StateFn), manual(s.inst.ID, "attach", false))
		if ferr != nil {
			t.Fatal(ferr)
		}
		if got := s.lbSubnets()["us-east-1c"]; got != s.vpc.Subnets["10.0.7.0/26"] {
			t.Errorf("ALB subnet in c = %s, want the existing public %s", got, s.vpc.Subnets["10.0.7.0/26"])
		}
		if r.Calls["EC2.CreateSubnet"] != 0 || len(s.subnetsIn("us-east-1c")) != 2 {
			t.Errorf("a subnet was created: calls %v", r.Calls)
		}
	})
	t.Run("a public /28 and an almost full public /27 are not used", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) {
			o.vpc.PublicSubnets["c"] = "10.0.7.0/28"
			o.vpc.PublicSubnets["us-east-1c"] = "10.0.8.0/27"
		})
		fillSubnet(t, s, s.vpc.Subnets["10.0.8.0/27"], 20) // 27 free - 20 = 7 < 8
		if _, ferr := invoke(t, function(t, StateFn), manual(s.inst.ID, "attach", false)); ferr != nil {
			t.Fatal(ferr)
		}
		got := s.lbSubnets()["us-east-1c"]
		if got == s.vpc.Subnets["10.0.7.0/28"] || got == s.vpc.Subnets["10.0.8.0/27"] || got == "" {
			t.Fatalf("ALB subnet in c = %q, want a new one", got)
		}
		if cidr := s.cidrOf(got); cidr != "10.0.3.0/27" {
			t.Errorf("new subnet %s, want 10.0.3.0/27", cidr)
		}
	})
	t.Run("two private subnets in the AZ get one public subnet", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) { o.vpc.PrivateSubnets["c"] = []string{"10.0.2.0/24", "10.0.4.0/24"} })
		second, err := localaws.NewInstance(s.ctx, awsCfg, localaws.InstanceSpec{VPC: s.vpc, SubnetCIDR: "10.0.4.0/24",
			SecurityGroup: s.inst.SecurityGroup, Tags: map[string]string{"elbattach:target": s.tg}})
		if err != nil {
			t.Fatal(err)
		}
		fn := function(t, StateFn)
		for _, id := range []string{s.inst.ID, second.ID} {
			if _, ferr := invoke(t, fn, manual(id, "attach", false)); ferr != nil {
				t.Fatal(ferr)
			}
		}
		if n := len(s.subnetsIn("us-east-1c")); n != 3 {
			t.Errorf("us-east-1c has %d subnets, want 2 private + 1 public", n)
		}
		if ts := s.targets(); len(ts) != 2 {
			t.Errorf("targets = %v", ts)
		}
	})
	t.Run("secondary VPC CIDR used when the primary is full", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) {
			o.vpc.CIDR, o.vpc.SecondaryCIDRs = "10.0.0.0/22", []string{"10.9.0.0/16"}
			o.vpc.PrivateSubnets["c"] = []string{"10.0.2.0/24", "10.0.3.0/24"}
		})
		if _, ferr := invoke(t, function(t, StateFn), manual(s.inst.ID, "attach", false)); ferr != nil {
			t.Fatal(ferr)
		}
		if cidr := s.cidrOf(s.lbSubnets()["us-east-1c"]); cidr != "10.9.0.0/27" {
			t.Errorf("new subnet %s, want 10.9.0.0/27", cidr)
		}
	})
	t.Run("a subnet an interrupted run created but did not route is finished, not duplicated", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		out, err := s.ec2.CreateSubnet(s.ctx, &ec2.CreateSubnetInput{VpcId: aws.String(s.vpc.ID), CidrBlock: aws.String("10.0.3.0/27"),
			AvailabilityZone: aws.String("us-east-1c"), TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSubnet,
				Tags: []ec2types.Tag{{Key: aws.String("elbattach:managed"), Value: aws.String("true")}}}}})
		if err != nil {
			t.Fatal(err)
		}
		half := aws.ToString(out.Subnet.SubnetId)
		r, ferr := invoke(t, function(t, StateFn), manual(s.inst.ID, "attach", false))
		if ferr != nil {
			t.Fatal(ferr)
		}
		if got := s.lbSubnets()["us-east-1c"]; got != half || !s.routedToIGW(half) || len(s.subnetsIn("us-east-1c")) != 2 {
			t.Errorf("ALB subnet in c %s (want %s, routed %v), report %v", got, half, s.routedToIGW(half), r.Changes)
		}
	})
	t.Run("PUBLIC_SUBNET_PREFIX sets the size", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		if _, ferr := invoke(t, function(t, StateFn, "PUBLIC_SUBNET_PREFIX=26"), manual(s.inst.ID, "attach", false)); ferr != nil {
			t.Fatal(ferr)
		}
		if cidr := s.cidrOf(s.lbSubnets()["us-east-1c"]); cidr != "10.0.3.0/26" {
			t.Errorf("new subnet %s, want 10.0.3.0/26", cidr)
		}
	})
}

// TestRefusals: each bad case gets its specific error and changes nothing.
func TestRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*options)
		env    []string
		setup  func(t *testing.T, s *scenario) []byte // the event; nil: manual attach
		want   string
	}{
		{name: "internal ALB", change: func(o *options) { o.alb.Internal = true }, want: "is not internet-facing: "},
		{name: "target group not allowed", change: func(o *options) { o.alb.AllowTag = false }, want: "has no tag elbattach:allow=true and is not in ALLOWED_TARGETS"},
		{name: "VPC without internet gateway", change: func(o *options) {
			o.vpc.NoIGW, o.vpc.PublicSubnets = true, nil
			o.vpc.PrivateSubnets = map[string][]string{"a": {"10.0.0.0/24"}, "b": {"10.0.1.0/24"}, "c": {"10.0.2.0/24"}}
		}, want: "VPC has no internet gateway"},
		{name: "tag names a missing target group", change: func(o *options) { o.tagValue = "no-such-tg" }, want: "target not found: target group no-such-tg"},
		{name: "tag value malformed", change: func(o *options) { o.tagValue = "bad name!" }, want: "bad target tag"},
		{name: "unknown instance", setup: func(t *testing.T, s *scenario) []byte {
			return manual("i-00000000000000000", "attach", false)
		}, want: "instance not found: i-00000000000000000"},
		{name: "foreign event", setup: func(t *testing.T, s *scenario) []byte {
			return sample(t, "tag-change.json", s.inst.ID)
		}, want: `foreign event: source "aws.tag"`},
		{name: "malformed event", setup: func(t *testing.T, s *scenario) []byte { return []byte(`{"instance-id": 5}`) }, want: "malformed event"},
		{name: "bad configuration", env: []string{"PUBLIC_SUBNET_PREFIX=28"}, want: "PUBLIC_SUBNET_PREFIX=\"28\""},
		{name: "load balancer in another VPC", setup: func(t *testing.T, s *scenario) []byte {
			other := newScenario(t, nil)
			retag(t, s, other.tg)
			return nil
		}, want: "load balancer in another VPC"},
		{name: "wrong detail-type", setup: func(t *testing.T, s *scenario) []byte {
			return []byte(strings.Replace(string(sample(t, "instance-running.json", s.inst.ID)), "EC2 Instance State-change Notification", "EC2 Spot Instance Interruption Warning", 1))
		}, want: `foreign event: source "aws.ec2", detail-type "EC2 Spot Instance Interruption Warning"`},
		{name: "manual event without instance-id", setup: func(t *testing.T, s *scenario) []byte {
			return []byte(`{"action": "attach"}`)
		}, want: "malformed event: no instance-id"},
		{name: "manual event with unknown action", setup: func(t *testing.T, s *scenario) []byte {
			return []byte(fmt.Sprintf(`{"instance-id": %q, "action": "attach-all"}`, s.inst.ID))
		}, want: `unknown action "attach-all"`},
		{name: "not JSON", setup: func(t *testing.T, s *scenario) []byte { return []byte(`"i-0123"`) }, want: "malformed event: want a JSON object"},
		{name: "terminated instance", setup: func(t *testing.T, s *scenario) []byte {
			if _, err := s.ec2.TerminateInstances(s.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{s.inst.ID}}); err != nil {
				t.Fatal(err)
			}
			return nil
		}, want: "instance not running: "},
		{name: "event from another region", setup: func(t *testing.T, s *scenario) []byte {
			return []byte(strings.ReplaceAll(string(sample(t, "instance-running.json", s.inst.ID)), "us-east-1", "eu-west-1"))
		}, want: "resource in another region: the event is from eu-west-1, this function runs in us-east-1"},
		{name: "target group ARN of another region", change: func(o *options) {
			o.tagValue = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
		}, want: "resource in another region"},
		{name: "VPC without free space for the prefix", change: func(o *options) {
			o.vpc.CIDR = "10.0.0.0/24"
			o.vpc.PublicSubnets = map[string]string{"a": "10.0.0.0/26", "b": "10.0.0.64/26"}
			o.vpc.PrivateSubnets = map[string][]string{"c": {"10.0.0.128/25"}}
			o.alb.SubnetCIDRs, o.instCIDR = []string{"10.0.0.0/26", "10.0.0.64/26"}, "10.0.0.128/25"
		}, want: "no free address space in VPC: no free /27"},
		{name: "security group rule quota reached", setup: func(t *testing.T, s *scenario) []byte {
			fillRules(t, s, s.inst.SecurityGroup, 60)
			return nil
		}, want: "security group rule limit reached: " + "sg-"},
		{name: "classic load balancer not found", change: func(o *options) { o.tagValue = "classic/nope" }, want: "target not found: classic load balancer nope"},
		{name: "target group without a load balancer", setup: func(t *testing.T, s *scenario) []byte {
			retag(t, s, orphanTargetGroup(t, s))
			return nil
		}, want: "target group has no load balancer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScenario(t, tt.change)
			var payload []byte
			if tt.setup != nil {
				payload = tt.setup(t, s)
			}
			if payload == nil {
				payload = manual(s.inst.ID, "attach", false)
			}
			before := s.world()
			_, ferr := invoke(t, function(t, StateFn, tt.env...), payload)
			if ferr == nil || !strings.Contains(ferr.Message, tt.want) {
				t.Fatalf("error = %v, want one saying %q", ferr, tt.want)
			}
			if diff := cmp.Diff(before, s.world()); diff != "" {
				t.Errorf("a refused run changed the world (-before +after):\n%s", diff)
			}
		})
	}
}

// fillSubnet uses up n addresses of a subnet with network interfaces.
func fillSubnet(t *testing.T, s *scenario, subnet string, n int) {
	t.Helper()
	for range n {
		if _, err := s.ec2.CreateNetworkInterface(s.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)}); err != nil {
			t.Fatal(err)
		}
	}
}

func retag(t *testing.T, s *scenario, value string) {
	t.Helper()
	_, err := s.ec2.CreateTags(s.ctx, &ec2.CreateTagsInput{Resources: []string{s.inst.ID},
		Tags: []ec2types.Tag{{Key: aws.String("elbattach:target"), Value: aws.String(value)}}})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *scenario) cidrOf(subnet string) string {
	out, err := s.ec2.DescribeSubnets(s.ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	if err != nil {
		s.t.Fatal(err)
	}
	return aws.ToString(out.Subnets[0].CidrBlock)
}

// fillRules adds n inbound rules to a group (moto enforces no quota; AWS's is 60).
func fillRules(t *testing.T, s *scenario, group string, n int) {
	t.Helper()
	var perms []ec2types.IpPermission
	for i := range n {
		perms = append(perms, ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(10000 + i)), ToPort: aws.Int32(int32(10000 + i)),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("192.0.2.0/24")}}})
	}
	if _, err := s.ec2.AuthorizeSecurityGroupIngress(s.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(group), IpPermissions: perms}); err != nil {
		t.Fatal(err)
	}
}

// orphanTargetGroup creates an opted-in target group no load balancer uses.
func orphanTargetGroup(t *testing.T, s *scenario) string {
	t.Helper()
	name := "orphan-" + strings.TrimPrefix(s.vpc.ID, "vpc-")[:8]
	_, err := s.elb.CreateTargetGroup(s.ctx, &elbv2.CreateTargetGroupInput{Name: aws.String(name), Port: aws.Int32(80),
		Protocol: elbv2types.ProtocolEnumHttp, VpcId: aws.String(s.vpc.ID),
		Tags: []elbv2types.Tag{{Key: aws.String("elbattach:allow"), Value: aws.String("true")}}})
	if err != nil {
		t.Fatal(err)
	}
	return name
}
