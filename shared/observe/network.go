package observe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbattach/elbattach/shared/state"
)

// Network reads a VPC's subnets and route tables, its internet gateway when
// no route table names one, and with acls its network ACLs. The VPC's CIDR
// blocks come from the route tables' local routes (every table has one per
// IPv4 block of the VPC); DescribeVpcs is read only when those do not hold
// every subnet (local routes replaced by middlebox routes, say).
func (o *Observer) Network(ctx context.Context, vpc string, acls bool) (*state.Network, error) {
	n := &state.Network{VPC: vpc}
	filter := vpcFilter(vpc)
	var tables []ec2types.RouteTable
	var wg sync.WaitGroup
	var subnetsErr, tablesErr, aclsErr error
	wg.Go(func() { n.Subnets, subnetsErr = o.subnets(ctx, filter) })
	wg.Go(func() { tables, tablesErr = o.routeTables(ctx, filter) })
	if acls {
		wg.Go(func() { n.NACLs, aclsErr = o.NACLs(ctx, vpc) })
	}
	wg.Wait()
	if err := errors.Join(subnetsErr, tablesErr, aclsErr); err != nil {
		return nil, fmt.Errorf("reading the network of %s, %w", vpc, err)
	}
	for _, t := range tables {
		rt := routeTableOf(t)
		if n.IGW == "" && rt.DefaultIGW != "" {
			n.IGW = rt.DefaultIGW
		}
		n.RouteTables = append(n.RouteTables, rt)
	}
	n.CIDRs = localBlocks(tables)
	if !covers(n.CIDRs, n.Subnets) {
		var err error
		if n.CIDRs, err = o.vpcBlocks(ctx, vpc); err != nil {
			return nil, err
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

// checksNetwork reads what the checks of a run in a covered AZ use first:
// the VPC's network ACLs and, for the NAT-route advice, its route tables
// (ChecksOnly, NoSubnets), at once, and caches them in a warm container.
// When an ACL of the path does not let everything through, the plan wants
// the subnets' CIDRs too (vpcSubnets).
func (o *Observer) checksNetwork(ctx context.Context, vpc string) (*state.Network, error) {
	var acls []state.NACL
	var tables []ec2types.RouteTable
	var aclsErr, tablesErr error
	var wg sync.WaitGroup
	wg.Go(func() { acls, aclsErr = o.NACLs(ctx, vpc) })
	wg.Go(func() {
		tables, tablesErr = o.routeTables(ctx, vpcFilter(vpc))
	})
	wg.Wait()
	if err := errors.Join(aclsErr, tablesErr); err != nil {
		return nil, fmt.Errorf("reading the network of %s, %w", vpc, err)
	}
	n := &state.Network{VPC: vpc, NACLs: acls, ChecksOnly: true, NoSubnets: true}
	for _, t := range tables {
		n.RouteTables = append(n.RouteTables, routeTableOf(t))
	}
	if o.TTL > 0 {
		o.cache.putNetwork(vpc, n)
	}
	return n, nil
}

// vpcSubnets reads the VPC's subnets.
func (o *Observer) vpcSubnets(ctx context.Context, vpc string) ([]state.Subnet, error) {
	return o.subnets(ctx, vpcFilter(vpc))
}

// subnets reads the subnets that match filter, every page.
func (o *Observer) subnets(ctx context.Context, filter []ec2types.Filter) ([]state.Subnet, error) {
	var out []state.Subnet
	pages := ec2.NewDescribeSubnetsPaginator(o.EC2, &ec2.DescribeSubnetsInput{Filters: filter})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing subnets, %w", err)
		}
		for _, s := range page.Subnets {
			out = append(out, subnetOf(s))
		}
	}
	return out, nil
}

// routeTables reads the route tables that match filter, every page.
func (o *Observer) routeTables(ctx context.Context, filter []ec2types.Filter) ([]ec2types.RouteTable, error) {
	var out []ec2types.RouteTable
	pages := ec2.NewDescribeRouteTablesPaginator(o.EC2, &ec2.DescribeRouteTablesInput{Filters: filter})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing route tables, %w", err)
		}
		out = append(out, page.RouteTables...)
	}
	return out, nil
}

// localBlocks returns the destinations of the tables' local routes: the
// routes a route table is created with, one per IPv4 CIDR block of the VPC.
func localBlocks(tables []ec2types.RouteTable) []netip.Prefix {
	var blocks []netip.Prefix
	for _, t := range tables {
		for _, r := range t.Routes {
			if aws.ToString(r.GatewayId) != "local" && r.Origin != ec2types.RouteOriginCreateRouteTable {
				continue
			}
			if p, err := netip.ParsePrefix(aws.ToString(r.DestinationCidrBlock)); err == nil && p.Addr().Is4() && !slices.Contains(blocks, p) {
				blocks = append(blocks, p)
			}
		}
	}
	slices.SortFunc(blocks, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return blocks
}

// covers reports whether blocks is non-empty and holds every subnet.
func covers(blocks []netip.Prefix, subnets []state.Subnet) bool {
	if len(blocks) == 0 {
		return false
	}
	for _, s := range subnets {
		if !slices.ContainsFunc(blocks, func(b netip.Prefix) bool { return b.Bits() <= s.CIDR.Bits() && b.Contains(s.CIDR.Addr()) }) {
			return false
		}
	}
	return true
}

// vpcBlocks reads the VPC's associated IPv4 CIDR blocks.
func (o *Observer) vpcBlocks(ctx context.Context, vpc string) ([]netip.Prefix, error) {
	vpcs, err := o.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpc}})
	if err != nil {
		return nil, fmt.Errorf("describing %s, %w", vpc, err)
	}
	var blocks []netip.Prefix
	for _, v := range vpcs.Vpcs {
		for _, a := range v.CidrBlockAssociationSet {
			if a.CidrBlockState != nil && a.CidrBlockState.State != ec2types.VpcCidrBlockStateCodeAssociated {
				continue
			}
			if p, err := netip.ParsePrefix(aws.ToString(a.CidrBlock)); err == nil {
				blocks = append(blocks, p)
			}
		}
	}
	return blocks, nil
}

// NACLs reads a VPC's network ACLs.
func (o *Observer) NACLs(ctx context.Context, vpc string) ([]state.NACL, error) {
	var out []state.NACL
	pages := ec2.NewDescribeNetworkAclsPaginator(o.EC2, &ec2.DescribeNetworkAclsInput{
		Filters: vpcFilter(vpc)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing network ACLs of %s, %w", vpc, err)
		}
		for _, a := range page.NetworkAcls {
			acl := state.NACL{ID: aws.ToString(a.NetworkAclId), Default: aws.ToBool(a.IsDefault)}
			for _, as := range a.Associations {
				acl.Subnets = append(acl.Subnets, aws.ToString(as.SubnetId))
			}
			for _, e := range a.Entries {
				p, _ := netip.ParsePrefix(aws.ToString(e.CidrBlock))
				ne := state.NACLEntry{Number: aws.ToInt32(e.RuleNumber), Egress: aws.ToBool(e.Egress),
					Protocol: aws.ToString(e.Protocol), CIDR: p, Allow: e.RuleAction == ec2types.RuleActionAllow}
				if e.PortRange != nil {
					ne.FromPort, ne.ToPort = aws.ToInt32(e.PortRange.From), aws.ToInt32(e.PortRange.To)
				}
				acl.Entries = append(acl.Entries, ne)
			}
			out = append(out, acl)
		}
	}
	return out, nil
}

func subnetOf(s ec2types.Subnet) state.Subnet {
	p, _ := netip.ParsePrefix(aws.ToString(s.CidrBlock))
	return state.Subnet{
		ID: aws.ToString(s.SubnetId), AZ: aws.ToString(s.AvailabilityZone), CIDR: p,
		FreeIPs: int(aws.ToInt32(s.AvailableIpAddressCount)), Tags: tagsOf(s.Tags), Outpost: aws.ToString(s.OutpostArn) != "",
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
		if aws.ToString(r.DestinationCidrBlock) != "0.0.0.0/0" {
			continue
		}
		rt.DefaultRoute = true
		if r.State == ec2types.RouteStateBlackhole {
			continue
		}
		if gw := aws.ToString(r.GatewayId); strings.HasPrefix(gw, "igw-") {
			rt.DefaultIGW = gw
		}
		// The way out that is not the internet gateway: a NAT gateway or
		// instance, or what centralised egress goes through (a transit
		// gateway, a firewall or Gateway Load Balancer endpoint, an
		// appliance's interface, a Cloud WAN core network).
		for _, via := range []string{aws.ToString(r.NatGatewayId), aws.ToString(r.InstanceId), aws.ToString(r.TransitGatewayId),
			vpcEndpoint(aws.ToString(r.GatewayId)), aws.ToString(r.NetworkInterfaceId), aws.ToString(r.CoreNetworkArn)} {
			if via != "" {
				rt.DefaultNAT = via
				break
			}
		}
	}
	return rt
}

// vpcEndpoint returns gw when it is a VPC endpoint (vpce-…), else "".
func vpcEndpoint(gw string) string {
	if strings.HasPrefix(gw, "vpce-") {
		return gw
	}
	return ""
}

// vpcFilter selects what belongs to vpc.
func vpcFilter(vpc string) []ec2types.Filter {
	return []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}
}
