package localaws

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testSpec is a VPC with two public subnets and three private ones.
var testSpec = VPCSpec{
	CIDR:           "10.0.0.0/16",
	SecondaryCIDRs: []string{"10.1.0.0/16"},
	PublicSubnets:  map[string]string{"a": "10.0.0.0/24", "us-east-1b": "10.0.1.0/24"},
	PrivateSubnets: map[string][]string{"a": {"10.0.10.0/24"}, "c": {"10.0.20.0/24", "10.1.0.0/24"}},
}

func TestNewVPC(t *testing.T) {
	t.Parallel()
	ctx, cfg := t.Context(), testConfig(t)
	vpc, err := NewVPC(ctx, cfg, testSpec)
	if err != nil {
		t.Fatal(err)
	}
	client := ec2.NewFromConfig(cfg)
	out, err := client.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc.ID}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range out.Subnets {
		got[aws.ToString(s.CidrBlock)] = aws.ToString(s.AvailabilityZone)
		if vpc.Subnets[aws.ToString(s.CidrBlock)] != aws.ToString(s.SubnetId) {
			t.Errorf("subnet %s: ID %s, VPC says %s", aws.ToString(s.CidrBlock), aws.ToString(s.SubnetId), vpc.Subnets[aws.ToString(s.CidrBlock)])
		}
	}
	want := map[string]string{
		"10.0.0.0/24": "us-east-1a", "10.0.1.0/24": "us-east-1b",
		"10.0.10.0/24": "us-east-1a", "10.0.20.0/24": "us-east-1c", "10.1.0.0/24": "us-east-1c",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subnets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, vpc.SubnetAZs); diff != "" {
		t.Errorf("SubnetAZs (-want +got):\n%s", diff)
	}
	checkRouteTables(t, client, vpc)
}

// checkRouteTables checks the routing of each subnet of a testSpec VPC.
func checkRouteTables(t *testing.T, client *ec2.Client, vpc *VPC) {
	t.Helper()
	out, err := client.DescribeRouteTables(t.Context(), &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc.ID}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	igwRoute := map[string]bool{}     // route table -> has 0.0.0.0/0 -> igw
	associated := map[string]string{} // subnet -> route table (explicit)
	for _, rt := range out.RouteTables {
		id := aws.ToString(rt.RouteTableId)
		for _, r := range rt.Routes {
			if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" && aws.ToString(r.GatewayId) == vpc.IGW {
				igwRoute[id] = true
			}
		}
		for _, a := range rt.Associations {
			if a.SubnetId != nil {
				associated[aws.ToString(a.SubnetId)] = id
			}
		}
	}
	if !igwRoute[vpc.PublicRouteTable] || igwRoute[vpc.MainRouteTable] || vpc.IGW == "" {
		t.Errorf("igw routes %v: want only on the public table %s (main %s, igw %q)", igwRoute, vpc.PublicRouteTable, vpc.MainRouteTable, vpc.IGW)
	}
	want := map[string]string{vpc.Subnets["10.0.0.0/24"]: vpc.PublicRouteTable, vpc.Subnets["10.0.1.0/24"]: vpc.PublicRouteTable}
	if diff := cmp.Diff(want, associated); diff != "" {
		t.Errorf("explicit associations (-want +got):\n%s", diff)
	}
}

func TestNewVPCWithoutIGW(t *testing.T) {
	t.Parallel()
	ctx, cfg := t.Context(), testConfig(t)
	vpc, err := NewVPC(ctx, cfg, VPCSpec{CIDR: "10.0.0.0/16", NoIGW: true, PrivateSubnets: map[string][]string{"a": {"10.0.0.0/24"}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ec2.NewFromConfig(cfg).DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: []ec2types.Filter{
		{Name: aws.String("attachment.vpc-id"), Values: []string{vpc.ID}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.InternetGateways) != 0 || vpc.IGW != "" || vpc.PublicRouteTable != "" {
		t.Errorf("want no gateway, got %d (%+v)", len(out.InternetGateways), vpc)
	}
	_, err = NewVPC(ctx, cfg, VPCSpec{CIDR: "10.0.0.0/16", NoIGW: true, PublicSubnets: map[string]string{"a": "10.0.0.0/24"}})
	if err == nil {
		t.Error("public subnets without an IGW: want an error")
	}
}

func TestNewALBAndInstance(t *testing.T) {
	t.Parallel()
	ctx, cfg := t.Context(), testConfig(t)
	vpc, err := NewVPC(ctx, cfg, testSpec)
	if err != nil {
		t.Fatal(err)
	}
	alb, err := NewALB(ctx, cfg, ALBSpec{
		VPC: vpc, SubnetCIDRs: []string{"10.0.0.0/24", "10.0.1.0/24"}, Port: 8080, HealthCheckPort: "9000", AllowTag: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkALB(t, elbv2.NewFromConfig(cfg), vpc, alb)
	inst, err := NewInstance(ctx, cfg, InstanceSpec{VPC: vpc, SubnetCIDR: "10.0.20.0/24", Tags: map[string]string{"elbattach:target": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	checkInstance(t, ec2.NewFromConfig(cfg), vpc, inst)
}

// checkALB checks the load balancer, target group and listener of alb.
func checkALB(t *testing.T, client *elbv2.Client, vpc *VPC, alb *ALB) {
	t.Helper()
	ctx := t.Context()
	lbs, err := client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{alb.ARN}})
	if err != nil {
		t.Fatal(err)
	}
	lb := lbs.LoadBalancers[0]
	var azs []string
	for _, az := range lb.AvailabilityZones {
		azs = append(azs, aws.ToString(az.ZoneName)+"="+aws.ToString(az.SubnetId))
	}
	wantAZs := []string{"us-east-1a=" + vpc.Subnets["10.0.0.0/24"], "us-east-1b=" + vpc.Subnets["10.0.1.0/24"]}
	if diff := cmp.Diff(wantAZs, azs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("load balancer AZs (-want +got):\n%s", diff)
	}
	if aws.ToString(lb.VpcId) != vpc.ID || string(lb.Scheme) != "internet-facing" || string(lb.Type) != "application" ||
		!cmp.Equal(lb.SecurityGroups, []string{alb.SecurityGroup}) || aws.ToString(lb.DNSName) != alb.DNSName {
		t.Errorf("load balancer %+v, want VPC %s, internet-facing application, SG %s", lb, vpc.ID, alb.SecurityGroup)
	}
	tgs, err := client.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{alb.TargetGroupARN}})
	if err != nil {
		t.Fatal(err)
	}
	tg := tgs.TargetGroups[0]
	if aws.ToInt32(tg.Port) != 8080 || aws.ToString(tg.HealthCheckPort) != "9000" || aws.ToString(tg.VpcId) != vpc.ID ||
		string(tg.TargetType) != "instance" || !cmp.Equal(tg.LoadBalancerArns, []string{alb.ARN}) {
		t.Errorf("target group %+v", tg)
	}
	tags, err := client.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{alb.TargetGroupARN}})
	if err != nil {
		t.Fatal(err)
	}
	if tt := tags.TagDescriptions[0].Tags; len(tt) != 1 || aws.ToString(tt[0].Key) != "elbattach:allow" || aws.ToString(tt[0].Value) != "true" {
		t.Errorf("target group tags %+v, want elbattach:allow=true", tt)
	}
	ls, err := client.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{alb.ListenerARN}})
	if err != nil {
		t.Fatal(err)
	}
	if l := ls.Listeners[0]; aws.ToInt32(l.Port) != 80 || aws.ToString(l.DefaultActions[0].TargetGroupArn) != alb.TargetGroupARN {
		t.Errorf("listener %+v, want port 80 forwarding to %s", l, alb.TargetGroupARN)
	}
}

// checkInstance checks the instance's placement, security group and tags.
func checkInstance(t *testing.T, client *ec2.Client, vpc *VPC, inst *Instance) {
	t.Helper()
	out, err := client.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{inst.ID}})
	if err != nil {
		t.Fatal(err)
	}
	got := out.Reservations[0].Instances[0]
	if aws.ToString(got.SubnetId) != vpc.Subnets["10.0.20.0/24"] || inst.SubnetID != aws.ToString(got.SubnetId) ||
		aws.ToString(got.VpcId) != vpc.ID || aws.ToString(got.Placement.AvailabilityZone) != "us-east-1c" ||
		aws.ToString(got.PrivateIpAddress) != inst.PrivateIP || inst.PrivateIP == "" {
		t.Errorf("instance %+v, fixture %+v", got, inst)
	}
	if len(got.SecurityGroups) != 1 || aws.ToString(got.SecurityGroups[0].GroupId) != inst.SecurityGroup {
		t.Errorf("instance security groups %+v, want %s", got.SecurityGroups, inst.SecurityGroup)
	}
	if len(got.Tags) != 1 || aws.ToString(got.Tags[0].Key) != "elbattach:target" || aws.ToString(got.Tags[0].Value) != "web" {
		t.Errorf("instance tags %+v", got.Tags)
	}
	sgs, err := client.DescribeSecurityGroups(t.Context(), &ec2.DescribeSecurityGroupsInput{GroupIds: []string{inst.SecurityGroup}})
	if err != nil {
		t.Fatal(err)
	}
	if sg := sgs.SecurityGroups[0]; len(sg.IpPermissions) != 0 || aws.ToString(sg.VpcId) != vpc.ID {
		t.Errorf("app security group %+v, want no ingress in %s", sg, vpc.ID)
	}
}

func TestNewNLBWithoutSecurityGroup(t *testing.T) {
	t.Parallel()
	ctx, cfg := t.Context(), testConfig(t)
	vpc, err := NewVPC(ctx, cfg, testSpec)
	if err != nil {
		t.Fatal(err)
	}
	nlb, err := NewALB(ctx, cfg, ALBSpec{
		VPC: vpc, SubnetCIDRs: []string{"10.0.0.0/24"}, Type: "network", TargetType: "ip", NoSecurityGroup: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := elbv2.NewFromConfig(cfg)
	lbs, err := client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{nlb.ARN}})
	if err != nil {
		t.Fatal(err)
	}
	if lb := lbs.LoadBalancers[0]; string(lb.Type) != "network" || len(lb.SecurityGroups) != 0 || nlb.SecurityGroup != "" {
		t.Errorf("NLB %+v (fixture %+v), want network without security groups", lb, nlb)
	}
	tgs, err := client.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{nlb.TargetGroupARN}})
	if err != nil {
		t.Fatal(err)
	}
	if tg := tgs.TargetGroups[0]; string(tg.TargetType) != "ip" || string(tg.Protocol) != "TCP" || aws.ToString(tg.HealthCheckPort) != "traffic-port" {
		t.Errorf("target group %+v, want ip/TCP/traffic-port", tg)
	}
}
