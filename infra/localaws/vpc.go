package localaws

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// VPCSpec describes a VPC fixture. AZ keys are a suffix ("a") or a full
// Availability Zone name ("us-east-1a").
type VPCSpec struct {
	CIDR           string              // primary CIDR, e.g. "10.0.0.0/16"
	SecondaryCIDRs []string            // extra CIDR blocks (AssociateVpcCidrBlock)
	NoIGW          bool                // no internet gateway at all
	PublicSubnets  map[string]string   // AZ -> CIDR, associated with a route table that has 0.0.0.0/0 -> igw
	PrivateSubnets map[string][]string // AZ -> CIDRs, left on the main route table (no igw route)
}

// VPC is a VPC fixture created in moto.
type VPC struct {
	ID               string
	IGW              string            // "" with NoIGW
	PublicRouteTable string            // "" without public subnets
	MainRouteTable   string            // the VPC's main route table
	Subnets          map[string]string // CIDR -> subnet ID
	SubnetAZs        map[string]string // CIDR -> Availability Zone
}

// NewVPC creates a new VPC with its gateway, route tables and subnets.
func NewVPC(ctx context.Context, cfg aws.Config, spec VPCSpec) (*VPC, error) {
	if spec.NoIGW && len(spec.PublicSubnets) > 0 {
		return nil, fmt.Errorf("public subnets need an internet gateway: NoIGW is set")
	}
	client := ec2.NewFromConfig(cfg)
	out, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{
		CidrBlock:         aws.String(spec.CIDR),
		TagSpecifications: nameTag(types.ResourceTypeVpc, "localaws-"+randomSuffix(6)),
	})
	if err != nil {
		return nil, fmt.Errorf("creating VPC %s, %w", spec.CIDR, err)
	}
	v := &VPC{ID: aws.ToString(out.Vpc.VpcId), Subnets: map[string]string{}, SubnetAZs: map[string]string{}}
	steps := []func(context.Context, *ec2.Client, VPCSpec, string) error{
		v.addCIDRs, v.addIGW, v.findMainRouteTable, v.addPublicSubnets, v.addPrivateSubnets,
	}
	for _, step := range steps {
		if err := step(ctx, client, spec, cfg.Region); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// addCIDRs associates the secondary CIDR blocks.
func (v *VPC) addCIDRs(ctx context.Context, client *ec2.Client, spec VPCSpec, _ string) error {
	for _, cidr := range spec.SecondaryCIDRs {
		_, err := client.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{
			VpcId: aws.String(v.ID), CidrBlock: aws.String(cidr),
		})
		if err != nil {
			return fmt.Errorf("associating CIDR %s with %s, %w", cidr, v.ID, err)
		}
	}
	return nil
}

// addIGW creates and attaches an internet gateway unless NoIGW.
func (v *VPC) addIGW(ctx context.Context, client *ec2.Client, spec VPCSpec, _ string) error {
	if spec.NoIGW {
		return nil
	}
	out, err := client.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		return fmt.Errorf("creating an internet gateway, %w", err)
	}
	v.IGW = aws.ToString(out.InternetGateway.InternetGatewayId)
	_, err = client.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{
		InternetGatewayId: aws.String(v.IGW), VpcId: aws.String(v.ID),
	})
	if err != nil {
		return fmt.Errorf("attaching %s to %s, %w", v.IGW, v.ID, err)
	}
	return nil
}

// findMainRouteTable records the VPC's main route table.
func (v *VPC) findMainRouteTable(ctx context.Context, client *ec2.Client, _ VPCSpec, _ string) error {
	out, err := client.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{v.ID}},
		{Name: aws.String("association.main"), Values: []string{"true"}},
	}})
	if err != nil {
		return fmt.Errorf("describing the main route table of %s, %w", v.ID, err)
	}
	if len(out.RouteTables) != 1 {
		return fmt.Errorf("%s has %d main route tables, want 1", v.ID, len(out.RouteTables))
	}
	v.MainRouteTable = aws.ToString(out.RouteTables[0].RouteTableId)
	return nil
}

// addPublicSubnets creates the public route table and subnets.
func (v *VPC) addPublicSubnets(ctx context.Context, client *ec2.Client, spec VPCSpec, region string) error {
	if len(spec.PublicSubnets) == 0 {
		return nil
	}
	rt, err := client.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
		VpcId:             aws.String(v.ID),
		TagSpecifications: nameTag(types.ResourceTypeRouteTable, "public"),
	})
	if err != nil {
		return fmt.Errorf("creating the public route table in %s, %w", v.ID, err)
	}
	v.PublicRouteTable = aws.ToString(rt.RouteTable.RouteTableId)
	_, err = client.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId: aws.String(v.PublicRouteTable), DestinationCidrBlock: aws.String("0.0.0.0/0"),
		GatewayId: aws.String(v.IGW),
	})
	if err != nil {
		return fmt.Errorf("adding the default route to %s, %w", v.PublicRouteTable, err)
	}
	for _, az := range sortedKeys(spec.PublicSubnets) {
		id, err := v.addSubnet(ctx, client, fullAZ(region, az), spec.PublicSubnets[az], "public")
		if err != nil {
			return err
		}
		_, err = client.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{
			RouteTableId: aws.String(v.PublicRouteTable), SubnetId: aws.String(id),
		})
		if err != nil {
			return fmt.Errorf("associating %s with %s, %w", id, v.PublicRouteTable, err)
		}
	}
	return nil
}

// addPrivateSubnets creates the private subnets (main route table).
func (v *VPC) addPrivateSubnets(ctx context.Context, client *ec2.Client, spec VPCSpec, region string) error {
	for _, az := range sortedKeys(spec.PrivateSubnets) {
		for _, cidr := range spec.PrivateSubnets[az] {
			if _, err := v.addSubnet(ctx, client, fullAZ(region, az), cidr, "private"); err != nil {
				return err
			}
		}
	}
	return nil
}

// addSubnet creates one subnet and records it.
func (v *VPC) addSubnet(ctx context.Context, client *ec2.Client, az, cidr, role string) (string, error) {
	out, err := client.CreateSubnet(ctx, &ec2.CreateSubnetInput{
		VpcId: aws.String(v.ID), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az),
		TagSpecifications: nameTag(types.ResourceTypeSubnet, role+"-"+az),
	})
	if err != nil {
		return "", fmt.Errorf("creating subnet %s in %s, %w", cidr, az, err)
	}
	id := aws.ToString(out.Subnet.SubnetId)
	v.Subnets[cidr] = id
	v.SubnetAZs[cidr] = az
	return id, nil
}

// SubnetIDs returns the IDs of the subnets with the given CIDRs.
func (v *VPC) SubnetIDs(cidrs ...string) ([]string, error) {
	ids := make([]string, 0, len(cidrs))
	for _, cidr := range cidrs {
		id, ok := v.Subnets[cidr]
		if !ok {
			return nil, fmt.Errorf("no subnet %s in %s", cidr, v.ID)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// fullAZ turns an AZ suffix ("a") into a full name ("us-east-1a").
func fullAZ(region, az string) string {
	if strings.Contains(az, "-") {
		return az
	}
	if region == "" {
		region = Region
	}
	return region + az
}

// nameTag returns a TagSpecification with a Name tag.
func nameTag(rt types.ResourceType, name string) []types.TagSpecification {
	return []types.TagSpecification{{
		ResourceType: rt,
		Tags:         []types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}},
	}}
}

// sortedKeys returns the keys of m in order, for a deterministic creation order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
