package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbattach/elbattach/infra/localaws"
	"github.com/elbattach/elbattach/shared/apply"
	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/awsclient"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/event"
	"github.com/elbattach/elbattach/shared/fakeaws"
	"github.com/elbattach/elbattach/shared/observe"
)

var ctx = context.Background()

// fastSettle is the Applier.Settle of the runs that leave the settle delay
// out (0 would mean apply.DefaultSettle).
const fastSettle = time.Nanosecond

// clients is the SDK configuration of the functions (awsclient.Load:
// standard retryer, 6 attempts) pointed at moto, counting every attempt
// into calls.
type clients struct {
	calls *awsclient.Counter
	cfg   aws.Config
}

func motoClients(b *testing.B) *clients {
	b.Helper()
	return clientsAt(b, moto.Endpoint)
}

// clientsAt is motoClients with the clients pointed at endpoint (moto, or a
// faultproxy in front of it).
func clientsAt(b *testing.B, endpoint string) *clients {
	b.Helper()
	c := &clients{calls: &awsclient.Counter{}}
	var err error
	c.cfg, err = awsclient.Load(ctx, c.calls,
		awsconfig.WithRegion(localaws.Region),
		awsconfig.WithBaseEndpoint(endpoint),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// pipeline is one function container, built as attach.New builds it
// (attach.NewPipeline), with the target cache's ttl (observe.TargetTTL: the
// functions' setting) and the Applier's settle delay (0: apply.DefaultSettle).
// The plan's subnet list is trusted as long as in the functions (half the
// default settle), also when a run leaves the settle delay out.
func (c *clients) pipeline(ttl, settle time.Duration) *attach.Pipeline {
	p := attach.NewPipeline(config.Default(), c.cfg, discardLog())
	p.Observer.TTL, p.Applier.Settle, p.Applier.TrustList = ttl, settle, apply.DefaultSettle/2
	return p
}

// handler is the instance-state function's handler around p, as attach.New
// builds it, without outcome events (nil Events: no PutEvents call) and with
// its EMF metrics and log lines formatted and discarded.
func handler(p *attach.Pipeline, calls *awsclient.Counter) *attach.Handler {
	return &attach.Handler{Kind: event.StateChange, Pipeline: p, Calls: calls, Metrics: io.Discard, Name: "bench"}
}

func discardLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// fakePipeline is one function container on a fakeaws World.
func fakePipeline(w *fakeaws.World, ttl, settle time.Duration) *attach.Pipeline {
	return &attach.Pipeline{Config: config.Default(), Region: fakeaws.Region,
		Observer: &observe.Observer{EC2: w.EC2(), ELB: w.ELBv2(), CLB: w.ClassicELB(), TTL: ttl},
		Applier:  &apply.Applier{EC2: w.EC2(), ELB: w.ELBv2(), CLB: w.ClassicELB(), Settle: settle, TrustList: apply.DefaultSettle / 2},
		Log:      discardLog()}
}

// site is a moto VPC 10.0.0.0/16 with public subnets in us-east-1a and b
// (10.0.0.0/24, 10.0.1.0/24) behind an internet-facing ALB whose target
// group (opted in by its tag) is tg, and private subnets in us-east-1a
// (10.0.16.0/20, an AZ the ALB covers) and, by default, us-east-1c
// (10.0.2.0/24, one it does not).
type site struct {
	vpc *localaws.VPC
	alb *localaws.ALB
	tg  string
	cfg aws.Config // uncounted: fixtures and checks
	ec2 *ec2.Client
	elb *elbv2.Client
}

// Private subnets of a site.
const (
	coveredCIDR = "10.0.16.0/20" // us-east-1a
	newAZCIDR   = "10.0.2.0/24"  // us-east-1c
)

func newSite(b *testing.B, private map[string][]string) *site {
	b.Helper()
	if private == nil {
		private = map[string][]string{"a": {coveredCIDR}, "c": {newAZCIDR}}
	}
	s := &site{cfg: moto.Config(ctx), tg: "tg-bench-" + randomHex(8)}
	s.ec2, s.elb = ec2.NewFromConfig(s.cfg), elbv2.NewFromConfig(s.cfg)
	var err error
	if s.vpc, err = localaws.NewVPC(ctx, s.cfg, localaws.VPCSpec{CIDR: "10.0.0.0/16",
		PublicSubnets: map[string]string{"a": "10.0.0.0/24", "b": "10.0.1.0/24"}, PrivateSubnets: private}); err != nil {
		b.Fatal(err)
	}
	if s.alb, err = localaws.NewALB(ctx, s.cfg, localaws.ALBSpec{VPC: s.vpc, SubnetCIDRs: []string{"10.0.0.0/24", "10.0.1.0/24"},
		TargetGroup: s.tg, AllowTag: true}); err != nil {
		b.Fatal(err)
	}
	return s
}

// instance launches an instance in the private subnet cidr, in a new
// security group without rules, tagged for the site's target group unless
// untagged.
func (s *site) instance(b *testing.B, cidr string, untagged bool) *localaws.Instance {
	b.Helper()
	tags := map[string]string{"Name": "app"}
	if !untagged {
		tags["elbattach:target"] = s.tg
	}
	in, err := localaws.NewInstance(ctx, s.cfg, localaws.InstanceSpec{VPC: s.vpc, SubnetCIDR: cidr, Tags: tags})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// launch runs n tagged instances in the private subnet cidr, in group sg.
func (s *site) launch(b *testing.B, cidr, sg string, n int32) []string {
	b.Helper()
	out, err := s.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(localaws.AMI), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(n), MaxCount: aws.Int32(n), SubnetId: aws.String(s.vpc.Subnets[cidr]), SecurityGroupIds: []string{sg},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("elbattach:target"), Value: aws.String(s.tg)}}}}})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 0, n)
	for _, i := range out.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	return ids
}

// subnetsByAZ returns the IDs of the VPC's subnets per AZ.
func (s *site) subnetsByAZ(b *testing.B) map[string][]string {
	b.Helper()
	out, err := s.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{s.vpc.ID}}}})
	if err != nil {
		b.Fatal(err)
	}
	m := map[string][]string{}
	for _, sn := range out.Subnets {
		az := aws.ToString(sn.AvailabilityZone)
		m[az] = append(m[az], aws.ToString(sn.SubnetId))
	}
	return m
}

// lbSubnets returns the ALB's subnet per AZ.
func (s *site) lbSubnets(b *testing.B) map[string]string {
	b.Helper()
	out, err := s.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{s.alb.ARN}})
	if err != nil {
		b.Fatal(err)
	}
	m := map[string]string{}
	for _, az := range out.LoadBalancers[0].AvailabilityZones {
		m[aws.ToString(az.ZoneName)] = aws.ToString(az.SubnetId)
	}
	return m
}

// targets returns the registered targets' IDs.
func (s *site) targets(b *testing.B) map[string]bool {
	b.Helper()
	out, err := s.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(s.alb.TargetGroupARN)})
	if err != nil {
		b.Fatal(err)
	}
	m := map[string]bool{}
	for _, d := range out.TargetHealthDescriptions {
		m[aws.ToString(d.Target.Id)] = true
	}
	return m
}

// ingressRules counts the rules of a security group that name another group.
func (s *site) ingressRules(b *testing.B, group string) int {
	b.Helper()
	out, err := s.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{group}})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, p := range out.SecurityGroups[0].IpPermissions {
		n += len(p.UserIdGroupPairs)
	}
	return n
}

// newGroup creates an empty security group in the site's VPC.
func (s *site) newGroup(b *testing.B) string {
	b.Helper()
	out, err := s.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app-" + randomHex(8)),
		Description: aws.String("bench"), VpcId: aws.String(s.vpc.ID)})
	if err != nil {
		b.Fatal(err)
	}
	return aws.ToString(out.GroupId)
}

// sample reads events/<name> with its instance ID replaced by id.
func sample(b *testing.B, name, id string) []byte {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		b.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(data), "i-0123456789abcdef0", id))
}

func randomHex(n int) string {
	buf := make([]byte, n/2)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// total sums calls per operation.
func total(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

// fakeOps turns fakeaws' recorded operations ("ec2.DescribeInstances") into
// counts under the SDK's names ("EC2.DescribeInstances"), as the Counter
// reports them.
func fakeOps(calls []string) map[string]int {
	names := map[string]string{"ec2": "EC2", "elbv2": "Elastic Load Balancing v2", "elb": "Elastic Load Balancing"}
	m := map[string]int{}
	for _, c := range calls {
		svc, op, _ := strings.Cut(c, ".")
		m[names[svc]+"."+op]++
	}
	return m
}
