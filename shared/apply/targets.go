package apply

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/plan"
)

func (a *Applier) register(ctx context.Context, st plan.Step) (bool, error) {
	_, err := a.ELB.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{
		TargetGroupArn: aws.String(st.TargetGroup),
		Targets:        []elbv2types.TargetDescription{{Id: aws.String(st.TargetID), Port: aws.Int32(st.Port)}},
	})
	if awserr.Is(err, awserr.InvalidTarget) {
		return false, fmt.Errorf("%w: %w", plan.ErrNotRunning, err)
	}
	if err != nil {
		return false, fmt.Errorf("registering target, %w", err)
	}
	return true, nil
}

// deregister removes the target from the port it is registered on (without
// the right port AWS answers success and does nothing).
func (a *Applier) deregister(ctx context.Context, st plan.Step) (bool, error) {
	_, err := a.ELB.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{
		TargetGroupArn: aws.String(st.TargetGroup),
		Targets:        []elbv2types.TargetDescription{{Id: aws.String(st.TargetID), Port: aws.Int32(st.Port)}},
	})
	if awserr.Is(err, awserr.InvalidTarget, awserr.TargetGroupNotFound) {
		return false, nil // gone already
	}
	if err != nil {
		return false, fmt.Errorf("deregistering target, %w", err)
	}
	return true, nil
}

func (a *Applier) registerClassic(ctx context.Context, st plan.Step) (bool, error) {
	_, err := a.CLB.RegisterInstancesWithLoadBalancer(ctx, &elb.RegisterInstancesWithLoadBalancerInput{
		LoadBalancerName: aws.String(st.LoadBalancer), Instances: []elbtypes.Instance{{InstanceId: aws.String(st.TargetID)}},
	})
	if awserr.Is(err, "InvalidInstance") {
		return false, fmt.Errorf("%w: %w", plan.ErrNotRunning, err)
	}
	if err != nil {
		return false, fmt.Errorf("registering instance, %w", err)
	}
	return true, nil
}

func (a *Applier) deregisterClassic(ctx context.Context, st plan.Step) (bool, error) {
	_, err := a.CLB.DeregisterInstancesFromLoadBalancer(ctx, &elb.DeregisterInstancesFromLoadBalancerInput{
		LoadBalancerName: aws.String(st.LoadBalancer), Instances: []elbtypes.Instance{{InstanceId: aws.String(st.TargetID)}},
	})
	if awserr.Is(err, "InvalidInstance", awserr.LoadBalancerNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("deregistering instance, %w", err)
	}
	return true, nil
}

func (a *Applier) authorizeEgress(ctx context.Context, st plan.Step) (bool, error) {
	_, err := a.EC2.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{
		GroupId: aws.String(st.Group),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String(st.Protocol), FromPort: aws.Int32(st.Port), ToPort: aws.Int32(st.Port),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(st.DestGroup), Description: aws.String(st.Description)}}}},
	})
	return ruleAdded("egress", err)
}

func (a *Applier) addNACLEntry(ctx context.Context, st plan.Step) (bool, error) {
	_, err := a.EC2.CreateNetworkAclEntry(ctx, &ec2.CreateNetworkAclEntryInput{
		NetworkAclId: aws.String(st.NACL), RuleNumber: aws.Int32(st.RuleNumber), Egress: aws.Bool(st.Egress),
		Protocol: aws.String(st.Protocol), RuleAction: ec2types.RuleActionAllow, CidrBlock: aws.String(st.SourceCIDR),
		PortRange: &ec2types.PortRange{From: aws.Int32(st.FromPort), To: aws.Int32(st.ToPort)},
	})
	if awserr.Is(err, "NetworkAclEntryAlreadyExists") {
		return false, fmt.Errorf("%w: rule %d of %s was taken meanwhile", ErrStale, st.RuleNumber, st.NACL)
	}
	if err != nil {
		return false, fmt.Errorf("adding network ACL entry, %w", err)
	}
	return true, nil
}
