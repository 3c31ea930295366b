package localaws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// AMI is the image the instance fixtures run: one of the AMIs moto 5.2.1
// ships (amzn-ami-hvm-2017.09.1.20171103-x86_64-gp2).
const AMI = "ami-760aaa0f"

// InstanceSpec describes an EC2 instance fixture.
type InstanceSpec struct {
	VPC           *VPC
	SubnetCIDR    string            // the subnet (by CIDR) to launch in
	Tags          map[string]string // instance tags (tag on launch)
	SecurityGroup string            // "" = a fresh "app-<random>" group in the VPC, without ingress
}

// Instance is an EC2 instance fixture created in moto (state running).
type Instance struct {
	ID, SecurityGroup, SubnetID, PrivateIP string
}

// NewInstance launches one t3.micro instance.
func NewInstance(ctx context.Context, cfg aws.Config, spec InstanceSpec) (*Instance, error) {
	subnets, err := spec.VPC.SubnetIDs(spec.SubnetCIDR)
	if err != nil {
		return nil, err
	}
	client := ec2.NewFromConfig(cfg)
	sg := spec.SecurityGroup
	if sg == "" {
		if sg, err = newSecurityGroup(ctx, client, spec.VPC.ID, "app"); err != nil {
			return nil, err
		}
	}
	in := &ec2.RunInstancesInput{
		ImageId:          aws.String(AMI),
		InstanceType:     types.InstanceTypeT3Micro,
		MinCount:         aws.Int32(1),
		MaxCount:         aws.Int32(1),
		SubnetId:         aws.String(subnets[0]),
		SecurityGroupIds: []string{sg},
	}
	if len(spec.Tags) > 0 {
		in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: ec2Tags(spec.Tags)}}
	}
	out, err := client.RunInstances(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("running an instance in %s, %w", subnets[0], err)
	}
	inst := out.Instances[0]
	return &Instance{
		ID:            aws.ToString(inst.InstanceId),
		SecurityGroup: sg,
		SubnetID:      aws.ToString(inst.SubnetId),
		PrivateIP:     aws.ToString(inst.PrivateIpAddress),
	}, nil
}

// ec2Tags converts a map into EC2 tags, sorted by key.
func ec2Tags(m map[string]string) []types.Tag {
	tags := make([]types.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return tags
}
