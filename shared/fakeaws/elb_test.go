package fakeaws

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

func TestDescribeRules(t *testing.T) {
	s := NewSite()
	api := s.W.AddTargetGroup(s.VPC, "api", 8080)
	lb := s.W.AddLoadBalancer("api", "application", Subnets(s.Public["us-east-1a"], s.Public["us-east-1b"]), Forward(443, ""), RuleTo(443, api))
	c := s.W.ELBv2()
	ls, err := c.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lb)})
	if err != nil {
		t.Fatal(err)
	}
	if a := ls.Listeners[0].DefaultActions[0]; a.Type != "fixed-response" || a.TargetGroupArn != nil {
		t.Errorf("default action: %+v", a)
	}
	rules, err := c.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: ls.Listeners[0].ListenerArn})
	if err != nil {
		t.Fatal(err)
	}
	if r := rules.Rules; len(r) != 2 || aws.ToString(r[0].Actions[0].TargetGroupArn) != api || !aws.ToBool(r[1].IsDefault) {
		t.Errorf("rules: %+v", r)
	}
	if tg := s.W.TargetGroup(api); len(tg.LoadBalancers) != 1 || tg.LoadBalancers[0] != lb {
		t.Errorf("a rule's target group lists its load balancer: %v", tg.LoadBalancers)
	}
	_, err = c.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: aws.String("arn:nope")})
	wantCode(t, err, "ListenerNotFound")
}

func TestDescribeInstanceHealth(t *testing.T) {
	s := NewSite()
	s.W.AddClassicLB("legacy", Subnets(s.Public["us-east-1a"]), ClassicPort(80, 80))
	inA, inC := s.Instance("us-east-1a", ""), s.Instance("us-east-1c", "")
	c := s.W.ClassicELB()
	if _, err := c.RegisterInstancesWithLoadBalancer(ctx, &elb.RegisterInstancesWithLoadBalancerInput{LoadBalancerName: aws.String("legacy"),
		Instances: []elbtypes.Instance{{InstanceId: aws.String(inA)}, {InstanceId: aws.String(inC)}}}); err != nil {
		t.Fatal(err)
	}
	s.W.SetClassicHealth("legacy", inA, InstanceHealth{State: "InService", Reason: "N/A", Description: "N/A"})
	out, err := c.DescribeInstanceHealth(ctx, &elb.DescribeInstanceHealthInput{LoadBalancerName: aws.String("legacy")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range out.InstanceStates {
		got[aws.ToString(st.InstanceId)] = aws.ToString(st.State) + "/" + aws.ToString(st.ReasonCode)
	}
	if got[inA] != "InService/N/A" || got[inC] != "OutOfService/ELB" {
		t.Errorf("health: %v", got)
	}
	_, err = c.DescribeInstanceHealth(ctx, &elb.DescribeInstanceHealthInput{LoadBalancerName: aws.String("legacy"),
		Instances: []elbtypes.Instance{{InstanceId: aws.String(s.Instance("us-east-1a", ""))}}})
	wantCode(t, err, "InvalidInstance")
	_, err = c.RegisterInstancesWithLoadBalancer(ctx, &elb.RegisterInstancesWithLoadBalancerInput{LoadBalancerName: aws.String("legacy"),
		Instances: []elbtypes.Instance{{InstanceId: aws.String("i-0000000000000ffff")}}})
	wantCode(t, err, "InvalidInstance")
}

func TestTargetGroupPages(t *testing.T) {
	w := New()
	vpc := w.AddVPC("10.0.0.0/16")
	for i := range 45 {
		w.AddTargetGroup(vpc, fmt.Sprintf("tg-%02d", i), 80)
	}
	pages := elbv2.NewDescribeTargetGroupsPaginator(w.ELBv2(), &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(20)})
	var sizes []int
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(p.TargetGroups))
	}
	if fmt.Sprint(sizes) != "[20 20 5]" {
		t.Errorf("pages %v", sizes)
	}
	_, err := w.ELBv2().DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(401)})
	wantCode(t, err, "ValidationError")
}

func TestNetworkAclEntry(t *testing.T) {
	s := NewSite()
	acl := s.W.AddNACL(s.VPC, Subnets(s.Public["us-east-1a"]))
	c := s.W.EC2()
	entry := func(n int32) error {
		_, err := c.CreateNetworkAclEntry(ctx, &ec2.CreateNetworkAclEntryInput{NetworkAclId: aws.String(acl), RuleNumber: aws.Int32(n),
			Egress: aws.Bool(false), Protocol: aws.String("6"), RuleAction: ec2types.RuleActionAllow, CidrBlock: aws.String("0.0.0.0/0"),
			PortRange: &ec2types.PortRange{From: aws.Int32(80), To: aws.Int32(80)}})
		return err
	}
	for n := int32(1); n <= 20; n++ {
		if err := entry(n); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, entry(5), "NetworkAclEntryAlreadyExists")
	wantCode(t, entry(21), "NetworkAclEntryLimitExceeded")
	out, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{s.Public["us-east-1a"]}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.NetworkAcls) != 1 || aws.ToString(out.NetworkAcls[0].NetworkAclId) != acl || len(out.NetworkAcls[0].Entries) != 22 {
		t.Errorf("ACLs of the subnet: %+v", out.NetworkAcls)
	}
}
