package observe

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbattach/elbattach/shared/state"
)

// Network reads a VPC's CIDR blocks, subnets and route tables, and its
// internet gateway when no route table names one.
func (o *Observer) Network(ctx context.Context, vpc string) (*state.Network, error) {
	n := &state.Network{VPC: vpc}
	vpcs, err := o.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpc}})
	if err != nil {
		return nil, fmt.Errorf("describing %s, %w", vpc, err)
	}
	for _, v := range vpcs.Vpcs {
		for _, a := range v.CidrBlockAssociationSet {
			if a.CidrBlockState != nil && a.CidrBlockState.State != ec2types.VpcCidrBlockStateCodeAssociated {
				continue
			}
			if p, err := netip.ParsePrefix(aws.ToString(a.CidrBlock)); err == nil {
				n.CIDRs = append(n.CIDRs, p)
			}
		}
	}
	filter := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}
	subnets := ec2.NewDescribeSubnetsPaginator(o.EC2, &ec2.DescribeSubnetsInput{Filters: filter})
	for subnets.HasMorePages() {
		page, err := subnets.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing subnets of %s, %w", vpc, err)
		}
		for _, s := range page.Subnets {
			n.Subnets = append(n.Subnets, subnetOf(s))
		}
	}
	tables := ec2.NewDescribeRouteTablesPaginator(o.EC2, &ec2.DescribeRouteTablesInput{Filters: filter})
	for tables.HasMorePages() {
		page, err := tables.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing route tables of %s, %w", vpc, err)
		}
		for _, t := range page.RouteTables {
			rt := routeTableOf(t)
			if n.IGW == "" && rt.DefaultIGW != "" {
				n.IGW = rt.DefaultIGW
			}
			n.RouteTables = append(n.RouteTables, rt)
		}
	}
	if n.IGW == "" {
		igws, err := o.EC2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{
			Filters: []ec2types.Filter{{Name: aws.String("attachment.vpc-id"), Values: []string{vpc}}},
		})
		if err != nil {
			return nil, fmt.Errorf("describing internet gateways of %s, %w", vpc, err)
		}
		for _, g := range igws.InternetGateways {
			n.IGW = aws.ToString(g.InternetGatewayId)
			break
		}
	}
	return n, nil
}

func subnetOf(s ec2types.Subnet) state.Subnet {
	p, _ := netip.ParsePrefix(aws.ToString(s.CidrBlock))
	return state.Subnet{
		ID: aws.ToString(s.SubnetId), AZ: aws.ToString(s.AvailabilityZone), CIDR: p,
		FreeIPs: int(aws.ToInt32(s.AvailableIpAddressCount)), Tags: tagsOf(s.Tags),
	}
}

// routeTableOf keeps what decides "public": a 0.0.0.0/0 route, active, whose
// gateway is an internet gateway (the test the Kubernetes AWS cloud provider
// uses too).
func routeTableOf(t ec2types.RouteTable) state.RouteTable {
	rt := state.RouteTable{ID: aws.ToString(t.RouteTableId), Tags: tagsOf(t.Tags)}
	for _, a := range t.Associations {
		if aws.ToBool(a.Main) {
			rt.Main = true
		} else if id := aws.ToString(a.SubnetId); id != "" {
			rt.Subnets = append(rt.Subnets, id)
		}
	}
	for _, r := range t.Routes {
		gw := aws.ToString(r.GatewayId)
		if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" && strings.HasPrefix(gw, "igw-") &&
			r.State != ec2types.RouteStateBlackhole {
			rt.DefaultIGW = gw
		}
	}
	return rt
}
