// Command demo shows elbattach at work on a local AWS (moto): it builds a VPC
// with an internet-facing ALB in two AZs and a tagged instance in a private
// subnet of a third, sends the instance's launch event through the
// EventBridge rule of template.yaml to the real bootstrap under the Lambda
// Runtime Interface Emulator, and prints the report and what changed. It
// stops everything it started.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbattach/elbattach/infra/localaws"
)

func main() {
	bootstrap := flag.String("bootstrap", "", "prebuilt instance-state bootstrap (default: build it)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, *bootstrap); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bootstrap string) error {
	if bootstrap == "" {
		dir, err := os.MkdirTemp("", "elbattach-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bootstrap = filepath.Join(dir, "bootstrap")
		step("building functions/instance-state as a Lambda bootstrap")
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bootstrap, "./functions/instance-state")
		cmd.Env, cmd.Stdout, cmd.Stderr = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building: %w", err)
		}
	}
	step("starting moto_server (local AWS)")
	moto, err := localaws.StartMoto(ctx)
	if err != nil {
		return err
	}
	defer moto.Stop()
	cfg := moto.Config(ctx)
	fmt.Println("  endpoint", moto.Endpoint)

	step("building the sandbox: VPC, ALB in us-east-1a+b, private instance in us-east-1c")
	vpc, err := localaws.NewVPC(ctx, cfg, localaws.VPCSpec{CIDR: "10.0.0.0/16",
		PublicSubnets:  map[string]string{"a": "10.0.0.0/24", "b": "10.0.1.0/24"},
		PrivateSubnets: map[string][]string{"c": {"10.0.2.0/24"}}})
	if err != nil {
		return err
	}
	alb, err := localaws.NewALB(ctx, cfg, localaws.ALBSpec{Name: "demo-alb", TargetGroup: "web", VPC: vpc,
		SubnetCIDRs: []string{"10.0.0.0/24", "10.0.1.0/24"}, AllowTag: true})
	if err != nil {
		return err
	}
	inst, err := localaws.NewInstance(ctx, cfg, localaws.InstanceSpec{VPC: vpc, SubnetCIDR: "10.0.2.0/24",
		Tags: map[string]string{"Name": "web-1", "elbattach:target": "web"}})
	if err != nil {
		return err
	}
	fmt.Printf("  %s in %s, instance %s (tag elbattach:target=web) in private subnet %s\n", vpc.ID, "10.0.0.0/16", inst.ID, inst.SubnetID)
	before := describe(ctx, cfg, vpc, alb, inst)
	fmt.Print(before)

	step("delivering the launch event through template.yaml's EventBridge rule")
	rules, err := localaws.LoadRules("template.yaml")
	if err != nil {
		return err
	}
	bus, err := localaws.NewBus(ctx, cfg, rules)
	if err != nil {
		return err
	}
	defer bus.Close(context.Background())
	got, err := bus.Deliver(ctx, "aws.ec2", "EC2 Instance State-change Notification",
		map[string]string{"instance-id": inst.ID, "state": "running"},
		[]string{"arn:aws:ec2:us-east-1:123456789012:instance/" + inst.ID})
	if err != nil {
		return err
	}
	event, ok := got["InstanceStateFunction"]
	if !ok {
		return fmt.Errorf("the rule did not match the launch event")
	}
	fmt.Println("  rule InstanceStateChanged matched; event delivered")

	step("invoking the bootstrap under the Lambda Runtime Interface Emulator")
	rie, err := localaws.StartRIE(ctx, bootstrap, append(moto.Env(), "LOG_LEVEL=info"))
	if err != nil {
		return err
	}
	defer rie.Stop()
	resp, ferr, err := rie.Invoke(ctx, event)
	if err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("function failed: %w\n%s", ferr, rie.Logs())
	}
	var pretty map[string]any
	_ = json.Unmarshal(resp, &pretty)
	out, _ := json.MarshalIndent(pretty, "  ", "  ")
	fmt.Println("  report:\n  " + string(out))

	step("the state afterwards")
	fmt.Print(describe(ctx, cfg, vpc, alb, inst))

	step("replaying the same event (idempotent: no changes)")
	resp, ferr, err = rie.Invoke(ctx, event)
	if err != nil || ferr != nil {
		return fmt.Errorf("replay: %v %v", err, ferr)
	}
	var again struct{ Changes []string }
	_ = json.Unmarshal(resp, &again)
	fmt.Printf("  changes: %v\n", again.Changes)
	step("done; stopping moto and the emulator")
	return nil
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

// describe prints the load balancer's subnets, the VPC's subnets with their
// route, the instance group's rules and the targets.
func describe(ctx context.Context, cfg aws.Config, vpc *localaws.VPC, alb *localaws.ALB, inst *localaws.Instance) string {
	var b strings.Builder
	e, l := ec2.NewFromConfig(cfg), elbv2.NewFromConfig(cfg)
	lbs, err := l.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{alb.ARN}})
	if err == nil && len(lbs.LoadBalancers) == 1 {
		var azs []string
		for _, az := range lbs.LoadBalancers[0].AvailabilityZones {
			azs = append(azs, aws.ToString(az.ZoneName)+"="+aws.ToString(az.SubnetId))
		}
		sort.Strings(azs)
		fmt.Fprintf(&b, "  ALB demo-alb subnets: %s\n", strings.Join(azs, " "))
	}
	subs, err := e.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc.ID}}}})
	if err == nil {
		sort.Slice(subs.Subnets, func(i, j int) bool {
			return aws.ToString(subs.Subnets[i].CidrBlock) < aws.ToString(subs.Subnets[j].CidrBlock)
		})
		for _, s := range subs.Subnets {
			name := ""
			for _, t := range s.Tags {
				if aws.ToString(t.Key) == "Name" {
					name = aws.ToString(t.Value)
				}
			}
			fmt.Fprintf(&b, "  subnet %-24s %-14s %s %s\n", aws.ToString(s.SubnetId), aws.ToString(s.CidrBlock), aws.ToString(s.AvailabilityZone), name)
		}
	}
	sgs, err := e.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{inst.SecurityGroup}})
	if err == nil {
		n := 0
		for _, p := range sgs.SecurityGroups[0].IpPermissions {
			for _, g := range p.UserIdGroupPairs {
				n++
				fmt.Fprintf(&b, "  instance group %s allows %s/%d from %s (%s)\n", inst.SecurityGroup, aws.ToString(p.IpProtocol),
					aws.ToInt32(p.FromPort), aws.ToString(g.GroupId), aws.ToString(g.Description))
			}
		}
		if n == 0 {
			fmt.Fprintf(&b, "  instance group %s: no inbound rules\n", inst.SecurityGroup)
		}
	}
	th, err := l.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(alb.TargetGroupARN)})
	if err == nil {
		var ts []string
		for _, d := range th.TargetHealthDescriptions {
			ts = append(ts, fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port)))
		}
		fmt.Fprintf(&b, "  target group web: %v\n", ts)
	}
	return b.String()
}
