package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"
)

// TestLoadBalancerKinds attaches through each kind of load balancer and
// target, asserting the subnets, the rules and the registration in moto.
func TestLoadBalancerKinds(t *testing.T) {
	t.Parallel()
	t.Run("NLB with a security group, instance targets", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) { o.alb.Type = "network" })
		r := attachOK(t, s)
		if s.lbSubnets()["us-east-1c"] == "" {
			t.Errorf("NLB subnets = %v, want us-east-1c added", s.lbSubnets())
		}
		want := []string{fmt.Sprintf("tcp/80-80 from %s (elbattach: from load balancer)", s.alb.SecurityGroup)}
		if got := s.ingress(s.inst.SecurityGroup); !cmp.Equal(got, want) {
			t.Errorf("ingress = %v, want %v (report %v)", got, want, r.Changes)
		}
	})
	t.Run("NLB without security groups, instance targets: client CIDRs and VPC health checks", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) {
			o.alb.Type, o.alb.NoSecurityGroup, o.alb.HealthCheckPort = "network", true, "8081"
		})
		attachOK(t, s, "NLB_CLIENT_CIDRS=203.0.113.0/24,198.51.100.0/24")
		want := []string{"tcp/80-80 from 198.51.100.0/24", "tcp/80-80 from 203.0.113.0/24", "tcp/8081-8081 from 10.0.0.0/16"}
		if got := s.ingress(s.inst.SecurityGroup); !cmp.Equal(got, want) {
			t.Errorf("ingress = %v, want %v", got, want)
		}
	})
	t.Run("NLB without security groups, default client CIDRs: warned", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) { o.alb.Type, o.alb.NoSecurityGroup = "network", true })
		r := attachOK(t, s)
		if got := s.ingress(s.inst.SecurityGroup); !cmp.Equal(got, []string{"tcp/80-80 from 0.0.0.0/0"}) {
			t.Errorf("ingress = %v, want only tcp/80 from 0.0.0.0/0 (it covers the health checks)", got)
		}
		if !hasWarning(r, "opened to 0.0.0.0/0 (NLB_CLIENT_CIDRS, default)") {
			t.Errorf("warnings = %v, want the 0.0.0.0/0 one", r.Warnings)
		}
	})
	t.Run("NLB without security groups, ip targets: the NLB's subnets", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) {
			o.alb.Type, o.alb.NoSecurityGroup, o.alb.TargetType = "network", true, "ip"
		})
		attachOK(t, s)
		want := []string{"tcp/80-80 from 10.0.0.0/24", "tcp/80-80 from 10.0.1.0/24", "tcp/80-80 from 10.0.3.0/27"}
		if got := s.ingress(s.inst.SecurityGroup); !cmp.Equal(got, want) {
			t.Errorf("ingress = %v, want %v", got, want)
		}
		if got := s.targets(); !cmp.Equal(got, []string{s.inst.PrivateIP + ":80"}) {
			t.Errorf("targets = %v, want the private IP", got)
		}
	})
	t.Run("ALB with ip targets registers the private IP", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, func(o *options) { o.alb.TargetType = "ip" })
		attachOK(t, s)
		if got := s.targets(); !cmp.Equal(got, []string{s.inst.PrivateIP + ":80"}) {
			t.Errorf("targets = %v, want the private IP", got)
		}
	})
	t.Run("port override and several targets, one failing", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		retag(t, s, s.tg+"@8080,no-such-group")
		r, ferr := invoke(t, function(t, StateFn), manual(s.inst.ID, "attach", false))
		if ferr == nil || !strings.Contains(ferr.Message, "no-such-group: target not found") {
			t.Fatalf("error = %v, want one naming no-such-group", ferr)
		}
		_ = r
		if got := s.targets(); !cmp.Equal(got, []string{s.inst.ID + ":8080"}) {
			t.Errorf("targets = %v, want the first target done on port 8080 despite the second failing", got)
		}
	})
	t.Run("Classic ELB", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		name := classicELB(t, s)
		retag(t, s, "classic/"+name)
		r := attachOK(t, s)
		out, err := elb.NewFromConfig(awsCfg).DescribeLoadBalancers(s.ctx, &elb.DescribeLoadBalancersInput{LoadBalancerNames: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		d := out.LoadBalancerDescriptions[0]
		inC := slices.ContainsFunc(s.subnetsIn("us-east-1c"), func(sn ec2types.Subnet) bool { return slices.Contains(d.Subnets, aws.ToString(sn.SubnetId)) })
		if !inC || len(d.Subnets) != 3 {
			t.Errorf("classic subnets %v, want one in us-east-1c added (report %v)", d.Subnets, r.Changes)
		}
		if len(d.Instances) != 1 || aws.ToString(d.Instances[0].InstanceId) != s.inst.ID {
			t.Errorf("classic instances = %v", d.Instances)
		}
		want := []string{
			fmt.Sprintf("tcp/8080-8080 from %s (elbattach: from load balancer)", s.alb.SecurityGroup),
			fmt.Sprintf("tcp/8081-8081 from %s (elbattach: from load balancer)", s.alb.SecurityGroup),
		}
		if got := s.ingress(s.inst.SecurityGroup); !cmp.Equal(got, want) {
			t.Errorf("ingress = %v, want %v", got, want)
		}
	})
}

// attachOK attaches the scenario's instance by a manual event and fails the
// test on a function error.
func attachOK(t *testing.T, s *scenario, env ...string) (r reportT) {
	t.Helper()
	r, ferr := invoke(t, function(t, StateFn, env...), manual(s.inst.ID, "attach", false))
	if ferr != nil {
		t.Fatalf("attach failed: %v", ferr)
	}
	return r
}

// classicELB creates an internet-facing Classic ELB in the scenario's public
// subnets, with the ALB's security group, listener 80 -> 8080, health check
// on 8081, opted in by tag.
func classicELB(t *testing.T, s *scenario) string {
	t.Helper()
	name := "clb-" + strings.ToLower(strings.TrimPrefix(s.vpc.ID, "vpc-"))[:10]
	c := elb.NewFromConfig(awsCfg)
	_, err := c.CreateLoadBalancer(s.ctx, &elb.CreateLoadBalancerInput{
		LoadBalancerName: aws.String(name), Scheme: aws.String("internet-facing"),
		Subnets:        []string{s.vpc.Subnets["10.0.0.0/24"], s.vpc.Subnets["10.0.1.0/24"]},
		SecurityGroups: []string{s.alb.SecurityGroup},
		Listeners:      []elbtypes.Listener{{Protocol: aws.String("HTTP"), LoadBalancerPort: 80, InstancePort: aws.Int32(8080)}},
		Tags:           []elbtypes.Tag{{Key: aws.String("elbattach:allow"), Value: aws.String("true")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ConfigureHealthCheck(s.ctx, &elb.ConfigureHealthCheckInput{LoadBalancerName: aws.String(name),
		HealthCheck: &elbtypes.HealthCheck{Target: aws.String("HTTP:8081/health"), Interval: aws.Int32(30), Timeout: aws.Int32(5),
			HealthyThreshold: aws.Int32(2), UnhealthyThreshold: aws.Int32(2)}})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// restrictEgress replaces a group's default egress (all to 0.0.0.0/0) with
// tcp/443 to 0.0.0.0/0.
func restrictEgress(t *testing.T, s *scenario, group string) {
	t.Helper()
	_, err := s.ec2.RevokeSecurityGroupEgress(s.ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(group),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ec2.AuthorizeSecurityGroupEgress(s.ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(group),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *scenario) egress(group string) []string {
	out, err := s.ec2.DescribeSecurityGroups(s.ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{group}})
	if err != nil {
		s.t.Fatal(err)
	}
	var rules []string
	for _, p := range out.SecurityGroups[0].IpPermissionsEgress {
		for _, pair := range p.UserIdGroupPairs {
			rules = append(rules, fmt.Sprintf("%s/%d to %s", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToString(pair.GroupId)))
		}
		for _, r := range p.IpRanges {
			rules = append(rules, fmt.Sprintf("%s/%d to %s", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToString(r.CidrIp)))
		}
	}
	slices.Sort(rules)
	return rules
}

func hasWarning(r reportT, substr string) bool {
	return slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, substr) })
}

var _ = elbv2.DescribeListenersInput{}
