package localaws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// ALBSpec describes an ELBv2 load balancer fixture (application by default,
// or network) with one target group and one listener on port 80.
// Load balancer and target group names must be unique within one moto:
// leave them empty to get random ones.
type ALBSpec struct {
	Name            string   // load balancer name; "" = "lb-<random>"
	VPC             *VPC     // the VPC whose subnets the load balancer uses
	SubnetCIDRs     []string // the subnets (by CIDR) the load balancer sits in
	Internal        bool     // scheme internal instead of internet-facing
	TargetGroup     string   // target group name; "" = "tg-<random>"
	Port            int32    // target group port, default 80
	HealthCheckPort string   // "" = traffic-port
	TargetType      string   // "instance" (default) or "ip"
	AllowTag        bool     // tag the target group elbattach:allow=true
	Type            string   // "application" (default) or "network"
	NoSecurityGroup bool     // create the load balancer without a security group (NLB only)
}

// ALB is a load balancer fixture created in moto.
type ALB struct {
	ARN, DNSName   string
	SecurityGroup  string // the security group created for the load balancer; "" with NoSecurityGroup
	TargetGroupARN string
	ListenerARN    string
}

// NewALB creates a security group for the load balancer (ingress TCP 80
// from 0.0.0.0/0), the load balancer, its target group and a listener on
// port 80 (HTTP, or TCP for a network load balancer) forwarding to it.
func NewALB(ctx context.Context, cfg aws.Config, spec ALBSpec) (*ALB, error) {
	spec = withALBDefaults(spec)
	subnets, err := spec.VPC.SubnetIDs(spec.SubnetCIDRs...)
	if err != nil {
		return nil, err
	}
	a := &ALB{}
	if !spec.NoSecurityGroup {
		a.SecurityGroup, err = newSecurityGroup(ctx, ec2.NewFromConfig(cfg), spec.VPC.ID, spec.Name+"-lb", 80)
		if err != nil {
			return nil, err
		}
	}
	client := elbv2.NewFromConfig(cfg)
	if err := a.createLoadBalancer(ctx, client, spec, subnets); err != nil {
		return nil, err
	}
	if err := a.createTargetGroup(ctx, client, spec); err != nil {
		return nil, err
	}
	if err := a.createListener(ctx, client, spec); err != nil {
		return nil, err
	}
	return a, nil
}

// withALBDefaults fills in the defaults of an ALBSpec.
func withALBDefaults(spec ALBSpec) ALBSpec {
	if spec.Name == "" {
		spec.Name = "lb-" + randomSuffix(8)
	}
	if spec.TargetGroup == "" {
		spec.TargetGroup = "tg-" + randomSuffix(8)
	}
	if spec.Port == 0 {
		spec.Port = 80
	}
	if spec.TargetType == "" {
		spec.TargetType = "instance"
	}
	if spec.Type == "" {
		spec.Type = "application"
	}
	return spec
}

// protocol is the listener and target group protocol for the LB type.
func (spec ALBSpec) protocol() types.ProtocolEnum {
	if spec.Type == "network" {
		return types.ProtocolEnumTcp
	}
	return types.ProtocolEnumHttp
}

// createLoadBalancer creates the load balancer itself.
func (a *ALB) createLoadBalancer(ctx context.Context, client *elbv2.Client, spec ALBSpec, subnets []string) error {
	in := &elbv2.CreateLoadBalancerInput{
		Name:    aws.String(spec.Name),
		Subnets: subnets,
		Scheme:  types.LoadBalancerSchemeEnumInternetFacing,
		Type:    types.LoadBalancerTypeEnum(spec.Type),
	}
	if spec.Internal {
		in.Scheme = types.LoadBalancerSchemeEnumInternal
	}
	if a.SecurityGroup != "" {
		in.SecurityGroups = []string{a.SecurityGroup}
	}
	out, err := client.CreateLoadBalancer(ctx, in)
	if err != nil {
		return fmt.Errorf("creating load balancer %s, %w", spec.Name, err)
	}
	a.ARN = aws.ToString(out.LoadBalancers[0].LoadBalancerArn)
	a.DNSName = aws.ToString(out.LoadBalancers[0].DNSName)
	return nil
}

// createTargetGroup creates the target group.
func (a *ALB) createTargetGroup(ctx context.Context, client *elbv2.Client, spec ALBSpec) error {
	in := &elbv2.CreateTargetGroupInput{
		Name:       aws.String(spec.TargetGroup),
		Protocol:   spec.protocol(),
		Port:       aws.Int32(spec.Port),
		VpcId:      aws.String(spec.VPC.ID),
		TargetType: types.TargetTypeEnum(spec.TargetType),
	}
	if spec.HealthCheckPort != "" {
		in.HealthCheckPort = aws.String(spec.HealthCheckPort)
	}
	if spec.AllowTag {
		in.Tags = []types.Tag{{Key: aws.String("elbattach:allow"), Value: aws.String("true")}}
	}
	out, err := client.CreateTargetGroup(ctx, in)
	if err != nil {
		return fmt.Errorf("creating target group %s, %w", spec.TargetGroup, err)
	}
	a.TargetGroupARN = aws.ToString(out.TargetGroups[0].TargetGroupArn)
	return nil
}

// createListener creates the port 80 listener forwarding to the target group.
func (a *ALB) createListener(ctx context.Context, client *elbv2.Client, spec ALBSpec) error {
	out, err := client.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: aws.String(a.ARN),
		Protocol:        spec.protocol(),
		Port:            aws.Int32(80),
		DefaultActions: []types.Action{{
			Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(a.TargetGroupARN),
		}},
	})
	if err != nil {
		return fmt.Errorf("creating the listener of %s, %w", spec.Name, err)
	}
	a.ListenerARN = aws.ToString(out.Listeners[0].ListenerArn)
	return nil
}

// newSecurityGroup creates a security group "<prefix>-<random>" in the VPC,
// with TCP ingress from 0.0.0.0/0 on each given port.
func newSecurityGroup(ctx context.Context, client *ec2.Client, vpcID, prefix string, ports ...int32) (string, error) {
	name := prefix + "-" + randomSuffix(8)
	out, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String(name), Description: aws.String("localaws " + name), VpcId: aws.String(vpcID),
	})
	if err != nil {
		return "", fmt.Errorf("creating security group %s in %s, %w", name, vpcID, err)
	}
	id := aws.ToString(out.GroupId)
	for _, port := range ports {
		_, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String(id),
			IpPermissions: []ec2types.IpPermission{{
				IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port),
				IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
			}},
		})
		if err != nil {
			return "", fmt.Errorf("opening port %d on %s, %w", port, id, err)
		}
	}
	return id, nil
}
