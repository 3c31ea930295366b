package fakeaws

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/elbattach/elbattach/shared/awserr"
)

var ctx = context.Background()

// wantCode fails unless err carries the AWS error code (through the SDK's
// OperationError wrapping).
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var op *smithy.OperationError
	if !awserr.Is(err, code) || !errors.As(err, &op) {
		t.Fatalf("got error %v, want AWS error %s wrapped in an OperationError", err, code)
	}
}

func createSubnet(s *Site, az, cidr string) (*ec2.CreateSubnetOutput, error) {
	return s.W.EC2().CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(s.VPC), AvailabilityZone: aws.String(az), CidrBlock: aws.String(cidr)})
}

func TestCreateSubnet(t *testing.T) {
	s := NewSite()
	for cidr, code := range map[string]string{
		"10.0.0.0/27":   "InvalidSubnet.Conflict", // public-a
		"10.0.10.64/26": "InvalidSubnet.Conflict", // inside private-a
		"10.0.0.0/8":    "InvalidSubnet.Range",
		"10.1.0.0/24":   "InvalidSubnet.Range", // outside the VPC
		"10.0.0.64/29":  "InvalidSubnet.Range", // smaller than /28
		"10.0.0.65/27":  "InvalidParameterValue",
	} {
		_, err := createSubnet(s, "us-east-1c", cidr)
		wantCode(t, err, code)
	}
	out, err := createSubnet(s, "us-east-1c", "10.0.0.64/27")
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Subnet.SubnetId)
	if got := s.W.FreeIPs(id); got != 27 {
		t.Errorf("free IPs of a new /27 = %d, want 27", got)
	}
	s.W.AddInstance(id)
	if got := s.W.FreeIPs(id); got != 26 {
		t.Errorf("free IPs with one instance = %d, want 26", got)
	}
	if got := s.W.RouteTableOf(id); got != s.W.MainRouteTable(s.VPC) {
		t.Errorf("a new subnet is governed by %s, want the main table", got)
	}
	if acl := s.W.NACL(s.W.DefaultNACL(s.VPC)); !strings.Contains(strings.Join(acl.Subnets, ","), id) {
		t.Errorf("a new subnet is not in the default ACL: %v", acl.Subnets)
	}
	w := New()
	vpc := w.AddVPC("10.0.0.0/16", SecondaryCIDR("100.64.0.0/16"))
	if _, err := w.EC2().CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), AvailabilityZone: aws.String("us-east-1a"), CidrBlock: aws.String("100.64.0.0/27")}); err != nil {
		t.Errorf("secondary block: %v", err)
	}
}

func TestCreateSubnetRace(t *testing.T) {
	s := NewSite()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, conflicts := 0, 0
	for range 50 {
		wg.Go(func() {
			_, err := createSubnet(s, "us-east-1c", "10.0.0.64/27")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if awserr.Is(err, awserr.SubnetConflict) {
				conflicts++
			}
		})
	}
	wg.Wait()
	if won != 1 || conflicts != 49 {
		t.Errorf("won %d, conflicts %d; want 1 and 49", won, conflicts)
	}
}

func TestAssociateRouteTable(t *testing.T) {
	s := NewSite()
	c := s.W.EC2()
	sub := s.W.AddSubnet(s.VPC, "us-east-1c", "10.0.0.64/27")
	in := &ec2.AssociateRouteTableInput{RouteTableId: aws.String(s.PublicRT), SubnetId: aws.String(sub)}
	if _, err := c.AssociateRouteTable(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err := c.AssociateRouteTable(ctx, in)
	wantCode(t, err, "Resource.AlreadyAssociated")
	_, err = c.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(s.PrivRT), SubnetId: aws.String(sub)})
	wantCode(t, err, "Resource.AlreadyAssociated")
	if got := s.W.RouteTableOf(sub); got != s.PublicRT {
		t.Errorf("route table of %s = %s, want %s", sub, got, s.PublicRT)
	}
}

func TestCreateRoute(t *testing.T) {
	s := NewSite()
	_, err := s.W.EC2().CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(s.PublicRT), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(s.IGW)})
	wantCode(t, err, "RouteAlreadyExists")
	_, err = s.W.EC2().CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(s.PublicRT), DestinationCidrBlock: aws.String("1.2.3.0/24"), GatewayId: aws.String("igw-nope")})
	wantCode(t, err, "InvalidInternetGatewayID.NotFound")
}

func TestAuthorize(t *testing.T) {
	s := NewSite()
	c := s.W.EC2()
	perm := func(port int32, desc string) []ec2types.IpPermission {
		return []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(s.LBGroup), Description: aws.String(desc)}}}}
	}
	in := func(port int32, desc string) *ec2.AuthorizeSecurityGroupIngressInput {
		return &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(s.AppGroup), IpPermissions: perm(port, desc)}
	}
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, in(80, "a")); err != nil {
		t.Fatal(err)
	}
	_, err := c.AuthorizeSecurityGroupIngress(ctx, in(80, "another description"))
	wantCode(t, err, "InvalidPermission.Duplicate")
	// protocol 6 is tcp
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(s.AppGroup), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("6"), FromPort: aws.Int32(80), ToPort: aws.Int32(80), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(s.LBGroup)}}}}})
	wantCode(t, err, "InvalidPermission.Duplicate")
	// the default egress rule
	_, err = c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(s.LBGroup), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	wantCode(t, err, "InvalidPermission.Duplicate")
	for port := int32(1000); port < 1059; port++ {
		if _, err := c.AuthorizeSecurityGroupIngress(ctx, in(port, "")); err != nil {
			t.Fatalf("rule %d: %v", port, err)
		}
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, in(2000, ""))
	wantCode(t, err, "RulesPerSecurityGroupLimitExceeded")
	if n := len(s.W.SecurityGroup(s.AppGroup).Ingress); n != 60 {
		t.Errorf("%d rules, want 60", n)
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-nope"), IpPermissions: perm(1, "")})
	wantCode(t, err, "InvalidGroup.NotFound")
}

func TestDescribeSecurityGroupsGroupsPeers(t *testing.T) {
	s := NewSite()
	s.W.AddIngress(s.AppGroup, TCP(80, s.LBGroup), TCP(80, "10.0.0.0/16"), TCP(443, s.LBGroup))
	out, err := s.W.EC2().DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{s.AppGroup}})
	if err != nil {
		t.Fatal(err)
	}
	p := out.SecurityGroups[0].IpPermissions
	if len(p) != 2 || len(p[0].UserIdGroupPairs) != 1 || len(p[0].IpRanges) != 1 || aws.ToInt32(p[1].FromPort) != 443 {
		t.Errorf("permissions not grouped by protocol and ports: %+v", p)
	}
	_, err = s.W.EC2().DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0000000000000ffff"}})
	wantCode(t, err, "InvalidGroup.NotFound")
}

func TestSetSubnets(t *testing.T) {
	s := NewSite()
	c := s.W.ELBv2()
	set := func(ids ...string) error {
		_, err := c.SetSubnets(ctx, &elbv2.SetSubnetsInput{LoadBalancerArn: aws.String(s.LB), Subnets: ids})
		return err
	}
	a, b := s.Public["us-east-1a"], s.Public["us-east-1b"]
	err := set(a, b, s.W.AddSubnet(s.VPC, "us-east-1a", "10.0.0.64/27"))
	wantCode(t, err, "InvalidConfigurationRequest")
	if !strings.Contains(err.Error(), "A load balancer cannot be attached to multiple subnets in the same Availability Zone") {
		t.Errorf("message: %v", err)
	}
	full := s.W.AddSubnet(s.VPC, "us-east-1c", "10.0.0.96/27", InUse(20))
	wantCode(t, set(a, b, full), "InvalidSubnet")
	wantCode(t, set(a), "InvalidConfigurationRequest") // an ALB needs two AZs
	wantCode(t, set(a, "subnet-nope"), "SubnetNotFound")
	c2 := s.W.AddSubnet(s.VPC, "us-east-1c", "10.0.0.128/27")
	if err := set(b, c2); err != nil {
		t.Fatal(err)
	}
	if got := s.W.LBZones(s.LB); len(got) != 2 || got["us-east-1c"] != c2 || got["us-east-1a"] != "" {
		t.Errorf("SetSubnets does not replace the list: %v", got)
	}
}

func TestTargets(t *testing.T) {
	s := NewSite()
	c := s.W.ELBv2()
	stopped := s.Instance("us-east-1a", "web", State("stopped"))
	_, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(s.TG), Targets: []elbv2types.TargetDescription{{Id: aws.String(stopped)}}})
	wantCode(t, err, "InvalidTarget")
	inA, inC := s.Instance("us-east-1a", "web"), s.Instance("us-east-1c", "web")
	for _, id := range []string{inA, inC} {
		if _, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(s.TG), Targets: []elbv2types.TargetDescription{{Id: aws.String(id)}}}); err != nil {
			t.Fatal(err)
		}
	}
	health := func(id string) (string, string) {
		out, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(s.TG),
			Targets: []elbv2types.TargetDescription{{Id: aws.String(id), Port: aws.Int32(80)}}})
		if err != nil {
			t.Fatal(err)
		}
		h := out.TargetHealthDescriptions[0].TargetHealth
		return string(h.State), string(h.Reason)
	}
	check := func(id, state, reason string) {
		t.Helper()
		if st, r := health(id); st != state || r != reason {
			t.Errorf("%s: %s/%s, want %s/%s", id, st, r, state, reason)
		}
	}
	check(inA, "initial", "Elb.RegistrationInProgress")
	check(inC, "unused", "Target.NotInUse")
	check(stopped, "unused", "Target.NotRegistered")
	s.W.SetTargetHealth(s.TG, inA, 80, "healthy", "")
	check(inA, "healthy", "")
	_, err = c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(s.TG),
		Targets: []elbv2types.TargetDescription{{Id: aws.String("i-0000000000000ffff")}}})
	wantCode(t, err, "InvalidTarget")
	_, err = c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"nope"}})
	wantCode(t, err, "TargetGroupNotFound")
	if _, err := c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(s.TG), Targets: []elbv2types.TargetDescription{{Id: aws.String(inA), Port: aws.Int32(81)}}}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.W.TargetGroup(s.TG).Targets); n != 2 {
		t.Errorf("deregistering from another port removed a target: %d left", n)
	}
}

func TestDescribeInstancesNotFound(t *testing.T) {
	s := NewSite()
	_, err := s.W.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	_, err = s.W.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-xyz"}})
	wantCode(t, err, "InvalidInstanceID.Malformed")
}

func TestClassicAttach(t *testing.T) {
	s := NewSite()
	name := s.W.AddClassicLB("legacy", Subnets(s.Public["us-east-1a"]), Groups(s.LBGroup), ClassicPort(80, 8080))
	c := s.W.ClassicELB()
	attach := func(ids ...string) error {
		_, err := c.AttachLoadBalancerToSubnets(ctx, &elb.AttachLoadBalancerToSubnetsInput{LoadBalancerName: aws.String(name), Subnets: ids})
		return err
	}
	if err := attach(s.Public["us-east-1b"]); err != nil {
		t.Fatal(err)
	}
	wantCode(t, attach(s.W.AddSubnet(s.VPC, "us-east-1b", "10.0.0.64/27")), "InvalidConfigurationRequest")
	if got := s.W.ClassicLB(name).Subnets; len(got) != 2 {
		t.Errorf("attach does not add: %v", got)
	}
	_, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerNames: []string{"nope"}})
	wantCode(t, err, "LoadBalancerNotFound")
}

func TestFilters(t *testing.T) {
	s := NewSite()
	other := s.W.AddVPC("10.1.0.0/16", WithIGW())
	c := s.W.EC2()
	vpc := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{s.VPC}}}
	subs, _ := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: vpc})
	if len(subs.Subnets) != 7 {
		t.Errorf("%d subnets in %s, want 7", len(subs.Subnets), s.VPC)
	}
	igws, _ := c.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: []ec2types.Filter{{Name: aws.String("attachment.vpc-id"), Values: []string{other}}}})
	if len(igws.InternetGateways) != 1 || aws.ToString(igws.InternetGateways[0].InternetGatewayId) == s.IGW {
		t.Errorf("internet gateways of %s: %+v", other, igws.InternetGateways)
	}
	rts, _ := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{s.Public["us-east-1a"]}}}})
	if len(rts.RouteTables) != 1 || aws.ToString(rts.RouteTables[0].RouteTableId) != s.PublicRT {
		t.Errorf("route tables of the public subnet: %+v", rts.RouteTables)
	}
	_, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("nope"), Values: []string{"x"}}}})
	wantCode(t, err, "InvalidParameterValue")
	pages := ec2.NewDescribeSubnetsPaginator(c, &ec2.DescribeSubnetsInput{Filters: vpc}, func(o *ec2.DescribeSubnetsPaginatorOptions) { o.Limit = 5 })
	n := 0
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Subnets)
	}
	if n != 7 {
		t.Errorf("paginator saw %d subnets, want 7", n)
	}
}

func TestInstrumentation(t *testing.T) {
	s := NewSite()
	c := s.W.EC2()
	throttled := Err("Throttling", "Rate exceeded")
	s.W.FailNext("ec2.DescribeVpcs", throttled)
	if _, err := c.DescribeVpcs(ctx, nil); !errors.Is(err, throttled) {
		t.Errorf("FailNext: %v", err)
	}
	if _, err := c.DescribeVpcs(ctx, nil); err != nil {
		t.Errorf("FailNext is one-shot: %v", err)
	}
	s.W.FailAlways("ec2.DescribeVpcs", throttled)
	for range 2 {
		if _, err := c.DescribeVpcs(ctx, nil); !awserr.Is(err, "Throttling") {
			t.Errorf("FailAlways: %v", err)
		}
	}
	s.W.FailAlways("ec2.DescribeVpcs", nil)
	order := []string{}
	s.W.OnCall("ec2.CreateSubnet", func() { order = append(order, "on") })
	s.W.AfterCall("ec2.CreateSubnet", func() { order = append(order, "after") })
	if _, err := createSubnet(s, "us-east-1c", "10.0.0.64/27"); err != nil {
		t.Fatal(err)
	}
	if _, err := createSubnet(s, "us-east-1c", "10.0.0.64/27"); err == nil {
		t.Fatal("no conflict")
	}
	if got := strings.Join(order, ","); got != "on,after,on" {
		t.Errorf("hooks ran %s, want on,after,on", got)
	}
	want := "ec2.DescribeVpcs ec2.DescribeVpcs ec2.DescribeVpcs ec2.DescribeVpcs ec2.CreateSubnet ec2.CreateSubnet"
	if got := strings.Join(s.W.Calls(), " "); got != want {
		t.Errorf("calls %s\nwant  %s", got, want)
	}
	if s.W.Count("ec2.CreateSubnet") != 2 || len(s.W.Inputs("ec2.CreateSubnet")) != 2 {
		t.Error("Count or Inputs")
	}
	if Mutating("ec2.DescribeVpcs") || !Mutating("elbv2.SetSubnets") {
		t.Error("Mutating")
	}
	defer func() {
		if recover() == nil {
			t.Error("an unmodelled call does not panic")
		}
	}()
	_, _ = c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{})
}

func TestDescribeTagsBatch(t *testing.T) {
	s := NewSite()
	arns := make([]string, 21)
	for i := range arns {
		arns[i] = s.TG
	}
	_, err := s.W.ELBv2().DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: arns})
	wantCode(t, err, "ValidationError")
}
