package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/infra/localaws"
	"github.com/elbattach/elbattach/shared/attach"
)

const region = "us-east-1"

// scenario is one VPC with an internet-facing ALB in us-east-1a and b
// (public subnets 10.0.0.0/24 and 10.0.1.0/24), a private subnet
// 10.0.2.0/24 in us-east-1c, and a tagged instance in it.
type scenario struct {
	t    *testing.T
	ctx  context.Context
	vpc  *localaws.VPC
	alb  *localaws.ALB
	inst *localaws.Instance
	tg   string
	// tagKey is the instance tag naming the target (TAG_KEY).
	tagKey string
	ec2    *ec2.Client
	elb    *elbv2.Client
}

type options struct {
	vpc      localaws.VPCSpec
	alb      localaws.ALBSpec
	noTag    bool
	tagValue string
	tagKey   string // default elbattach:target
	instCIDR string
}

func defaults() options {
	return options{
		vpc: localaws.VPCSpec{CIDR: "10.0.0.0/16",
			PublicSubnets:  map[string]string{"a": "10.0.0.0/24", "b": "10.0.1.0/24"},
			PrivateSubnets: map[string][]string{"c": {"10.0.2.0/24"}}},
		alb:      localaws.ALBSpec{SubnetCIDRs: []string{"10.0.0.0/24", "10.0.1.0/24"}, AllowTag: true},
		instCIDR: "10.0.2.0/24",
	}
}

func newScenario(t *testing.T, change func(*options)) *scenario {
	t.Helper()
	o := defaults()
	if change != nil {
		change(&o)
	}
	ctx := context.Background()
	if o.tagKey == "" {
		o.tagKey = "elbattach:target"
	}
	s := &scenario{t: t, ctx: ctx, ec2: ec2.NewFromConfig(awsCfg), elb: elbv2.NewFromConfig(awsCfg), tagKey: o.tagKey}
	var err error
	if s.vpc, err = localaws.NewVPC(ctx, awsCfg, o.vpc); err != nil {
		t.Fatal(err)
	}
	o.alb.VPC = s.vpc
	if s.alb, err = localaws.NewALB(ctx, awsCfg, o.alb); err != nil {
		t.Fatal(err)
	}
	s.tg = s.targetGroupName()
	if o.tagValue == "" {
		o.tagValue = s.tg
	}
	tags := map[string]string{"Name": "app"}
	if !o.noTag {
		tags[o.tagKey] = o.tagValue
	}
	if s.inst, err = localaws.NewInstance(ctx, awsCfg, localaws.InstanceSpec{VPC: s.vpc, SubnetCIDR: o.instCIDR, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *scenario) targetGroupName() string {
	out, err := s.elb.DescribeTargetGroups(s.ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{s.alb.TargetGroupARN}})
	if err != nil {
		s.t.Fatal(err)
	}
	return aws.ToString(out.TargetGroups[0].TargetGroupName)
}

// function starts a function's bootstrap under its own RIE.
func function(t *testing.T, fn string, env ...string) *localaws.RIE {
	t.Helper()
	env = append(append(moto.Env(), "LOG_LEVEL=debug"), env...)
	r, err := localaws.StartRIE(context.Background(), bootstraps[fn], env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s logs:\n%s", fn, r.Logs())
		}
		r.Stop()
	})
	return r
}

// invoke runs payload through the function and decodes its report.
type reportT = attach.Report

func invoke(t *testing.T, fn *localaws.RIE, payload []byte) (attach.Report, *localaws.FunctionError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, ferr, err := fn.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var r attach.Report
	if ferr == nil {
		if err := json.Unmarshal(resp, &r); err != nil {
			t.Fatalf("report %s: %v", resp, err)
		}
		record(r.Calls)
	}
	return r, ferr
}

// manual is a console test event.
func manual(id, action string, dryRun bool) []byte {
	b, _ := json.Marshal(map[string]any{"instance-id": id, "action": action, "dry-run": dryRun})
	return b
}

// sample reads events/<name> with the sample instance ID replaced by id.
func sample(t *testing.T, name, id string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "i-0123456789abcdef0", id))
}

// world is what elbattach may change in a scenario's VPC, for before/after
// comparisons.
type world struct {
	Subnets      []string // id cidr az tags
	Associations []string // route table -> subnet
	LBSubnets    []string // az=subnet
	Ingress      []string // rules of the instance's group
	Targets      []string // id:port
}

func (s *scenario) world() world {
	t, ctx := s.t, s.ctx
	t.Helper()
	var w world
	vpcFilter := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{s.vpc.ID}}}
	subs, err := s.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: vpcFilter})
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range subs.Subnets {
		w.Subnets = append(w.Subnets, fmt.Sprintf("%s %s %s", aws.ToString(sn.SubnetId), aws.ToString(sn.CidrBlock), aws.ToString(sn.AvailabilityZone)))
	}
	rts, err := s.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: vpcFilter})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range rts.RouteTables {
		for _, a := range rt.Associations {
			w.Associations = append(w.Associations, aws.ToString(rt.RouteTableId)+"->"+aws.ToString(a.SubnetId))
		}
	}
	w.LBSubnets = mapLines(s.lbSubnets())
	w.Ingress = s.ingress(s.inst.SecurityGroup)
	w.Targets = s.targets()
	for _, l := range [][]string{w.Subnets, w.Associations, w.Ingress, w.Targets} {
		sort.Strings(l)
	}
	return w
}

func (s *scenario) lbSubnets() map[string]string {
	out, err := s.elb.DescribeLoadBalancers(s.ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{s.alb.ARN}})
	if err != nil {
		s.t.Fatal(err)
	}
	m := map[string]string{}
	for _, az := range out.LoadBalancers[0].AvailabilityZones {
		m[aws.ToString(az.ZoneName)] = aws.ToString(az.SubnetId)
	}
	return m
}

func (s *scenario) ingress(group string) []string {
	out, err := s.ec2.DescribeSecurityGroups(s.ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{group}})
	if err != nil {
		s.t.Fatal(err)
	}
	var rules []string
	for _, p := range out.SecurityGroups[0].IpPermissions {
		for _, pair := range p.UserIdGroupPairs {
			rules = append(rules, fmt.Sprintf("%s/%d-%d from %s (%s)", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort),
				aws.ToInt32(p.ToPort), aws.ToString(pair.GroupId), aws.ToString(pair.Description)))
		}
		for _, r := range p.IpRanges {
			rules = append(rules, fmt.Sprintf("%s/%d-%d from %s", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort),
				aws.ToInt32(p.ToPort), aws.ToString(r.CidrIp)))
		}
	}
	sort.Strings(rules)
	return rules
}

func (s *scenario) targets() []string {
	out, err := s.elb.DescribeTargetHealth(s.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(s.alb.TargetGroupARN)})
	if err != nil {
		s.t.Fatal(err)
	}
	var ts []string
	for _, d := range out.TargetHealthDescriptions {
		ts = append(ts, fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port)))
	}
	sort.Strings(ts)
	return ts
}

// subnetsIn returns the VPC's subnets in az.
func (s *scenario) subnetsIn(az string) []ec2types.Subnet {
	out, err := s.ec2.DescribeSubnets(s.ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{s.vpc.ID}},
		{Name: aws.String("availability-zone"), Values: []string{az}},
	}})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.Subnets
}

// routedToIGW reports whether subnet's route table (explicit, else main)
// sends 0.0.0.0/0 to the VPC's internet gateway.
func (s *scenario) routedToIGW(subnet string) bool {
	out, err := s.ec2.DescribeRouteTables(s.ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{subnet}}}})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, rt := range out.RouteTables {
		for _, r := range rt.Routes {
			if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" && aws.ToString(r.GatewayId) == s.vpc.IGW {
				return true
			}
		}
	}
	return false
}

func tagsOf(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func mapLines(m map[string]string) []string {
	var l []string
	for k, v := range m {
		l = append(l, k+"="+v)
	}
	slices.Sort(l)
	return l
}

func hasChange(r attach.Report, substr string) bool {
	return slices.ContainsFunc(r.Changes, func(c string) bool { return strings.Contains(c, substr) })
}

func cmpWorld(a, b world) string { return cmp.Diff(a, b) }
