package fakeaws

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2 is a fake EC2 client. The embedded interface lists SDK calls the fake
// does not model: it is nil, so such a call panics.
type EC2 struct {
	unmodelledEC2
	w *World
}

// unmodelledEC2 holds EC2 calls elbattach does not make today. Should an
// interface of elbattach grow one, the fake still satisfies it and the call
// panics, as in karpenter's fakes.
type unmodelledEC2 interface {
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	DeleteSubnet(context.Context, *ec2.DeleteSubnetInput, ...func(*ec2.Options)) (*ec2.DeleteSubnetOutput, error)
	DisassociateRouteTable(context.Context, *ec2.DisassociateRouteTableInput, ...func(*ec2.Options)) (*ec2.DisassociateRouteTableOutput, error)
	RevokeSecurityGroupIngress(context.Context, *ec2.RevokeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupEgress(context.Context, *ec2.RevokeSecurityGroupEgressInput, ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error)
	DescribeAvailabilityZones(context.Context, *ec2.DescribeAvailabilityZonesInput, ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
	DescribeNatGateways(context.Context, *ec2.DescribeNatGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error)
	DescribeNetworkInterfaces(context.Context, *ec2.DescribeNetworkInterfacesInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	ModifySubnetAttribute(context.Context, *ec2.ModifySubnetAttributeInput, ...func(*ec2.Options)) (*ec2.ModifySubnetAttributeOutput, error)
}

// filters are the Describe filters of a request, by name.
type filters map[string][]string

func parseFilters(fs []ec2types.Filter, known ...string) (filters, error) {
	f := filters{}
	for _, x := range fs {
		name := aws.ToString(x.Name)
		if !slices.Contains(known, name) {
			return nil, Err("InvalidParameterValue", "The filter '%s' is invalid", name)
		}
		f[name] = append(f[name], x.Values...)
	}
	return f, nil
}

// match reports whether one of vals passes filter name (absent: all pass).
func (f filters) match(name string, vals ...string) bool {
	want, ok := f[name]
	if !ok {
		return true
	}
	for _, v := range vals {
		if slices.Contains(want, v) {
			return true
		}
	}
	return false
}

// missing returns an error naming the ids the lookup does not know.
func missing(ids []string, known func(string) bool, code, kind string) error {
	var gone []string
	for _, id := range ids {
		if !known(id) {
			gone = append(gone, id)
		}
	}
	switch len(gone) {
	case 0:
		return nil
	case 1:
		return Err(code, "The %s ID '%s' does not exist", kind, gone[0])
	}
	return Err(code, "The %s IDs '%s' do not exist", kind, strings.Join(gone, ", "))
}

var instanceID = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)

// DescribeInstances implements the EC2 call (InstanceIds; filters tag-key,
// instance-state-name, instance-id; no pagination: one page).
func (c *EC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return do(ctx, c.w, "ec2.DescribeInstances", in, func(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		d := &c.w.db
		f, err := parseFilters(in.Filters, "tag-key", "instance-state-name", "instance-id")
		if err != nil {
			return nil, err
		}
		for _, id := range in.InstanceIds {
			if !instanceID.MatchString(id) {
				return nil, Err("InvalidInstanceID.Malformed", "Invalid id: %q", id)
			}
		}
		if err := missing(in.InstanceIds, func(id string) bool { return d.Instances[id] != nil }, "InvalidInstanceID.NotFound", "instance"); err != nil {
			return nil, err
		}
		ids := in.InstanceIds
		if len(ids) == 0 {
			ids = sortedKeys(d.Instances)
		}
		out := &ec2.DescribeInstancesOutput{}
		for _, id := range ids {
			i := d.Instances[id]
			if !f.match("tag-key", slices.Collect(maps.Keys(i.Tags))...) || !f.match("instance-state-name", i.State) || !f.match("instance-id", i.ID) {
				continue
			}
			x := ec2types.Instance{InstanceId: aws.String(i.ID), VpcId: aws.String(i.VPC), SubnetId: aws.String(i.Subnet),
				PrivateIpAddress: aws.String(i.PrivateIP), Placement: &ec2types.Placement{AvailabilityZone: aws.String(i.AZ)},
				State: &ec2types.InstanceState{Name: ec2types.InstanceStateName(i.State)}, Tags: ec2Tags(i.Tags)}
			for _, g := range i.Groups {
				x.SecurityGroups = append(x.SecurityGroups, ec2types.GroupIdentifier{GroupId: aws.String(g), GroupName: aws.String(d.Groups[g].Name)})
			}
			out.Reservations = append(out.Reservations, ec2types.Reservation{OwnerId: aws.String(Account), Instances: []ec2types.Instance{x}})
		}
		return out, nil
	})
}

// DescribeSecurityGroups implements the EC2 call (GroupIds; filter vpc-id).
func (c *EC2) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	return do(ctx, c.w, "ec2.DescribeSecurityGroups", in, func(in *ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
		d := &c.w.db
		f, err := parseFilters(in.Filters, "vpc-id", "group-id")
		if err != nil {
			return nil, err
		}
		for _, id := range in.GroupIds {
			if !strings.HasPrefix(id, "sg-") {
				return nil, Err("InvalidGroupId.Malformed", "Invalid id: %q (expecting \"sg-...\")", id)
			}
			if d.Groups[id] == nil {
				return nil, Err("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
			}
		}
		out := &ec2.DescribeSecurityGroupsOutput{}
		for _, id := range sortedKeys(d.Groups) {
			g := d.Groups[id]
			if (len(in.GroupIds) > 0 && !slices.Contains(in.GroupIds, id)) || !f.match("vpc-id", g.VPC) || !f.match("group-id", id) {
				continue
			}
			out.SecurityGroups = append(out.SecurityGroups, ec2types.SecurityGroup{GroupId: aws.String(id), GroupName: aws.String(g.Name),
				VpcId: aws.String(g.VPC), OwnerId: aws.String(Account), IpPermissions: permissions(g.Ingress), IpPermissionsEgress: permissions(g.Egress)})
		}
		return out, nil
	})
}

// permissions groups rules as AWS does: one IpPermission per protocol and
// port range, holding every peer.
func permissions(rules []Rule) []ec2types.IpPermission {
	var out []ec2types.IpPermission
	at := map[string]int{}
	for _, r := range rules {
		key := fmt.Sprint(r.Protocol, r.From, r.To)
		i, ok := at[key]
		if !ok {
			p := ec2types.IpPermission{IpProtocol: aws.String(r.Protocol)}
			if r.Protocol != "-1" {
				p.FromPort, p.ToPort = aws.Int32(r.From), aws.Int32(r.To)
			}
			out = append(out, p)
			i = len(out) - 1
			at[key] = i
		}
		desc := optional(r.Description)
		switch {
		case r.Group != "":
			out[i].UserIdGroupPairs = append(out[i].UserIdGroupPairs, ec2types.UserIdGroupPair{GroupId: aws.String(r.Group), UserId: aws.String(Account), Description: desc})
		case strings.Contains(r.CIDR, ":"):
			out[i].Ipv6Ranges = append(out[i].Ipv6Ranges, ec2types.Ipv6Range{CidrIpv6: aws.String(r.CIDR), Description: desc})
		default:
			out[i].IpRanges = append(out[i].IpRanges, ec2types.IpRange{CidrIp: aws.String(r.CIDR), Description: desc})
		}
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// DescribeVpcs implements the EC2 call (VpcIds).
func (c *EC2) DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	return do(ctx, c.w, "ec2.DescribeVpcs", in, func(in *ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error) {
		d := &c.w.db
		if _, err := parseFilters(in.Filters); err != nil {
			return nil, err
		}
		if err := missing(in.VpcIds, func(id string) bool { return d.VPCs[id] != nil }, "InvalidVpcID.NotFound", "vpc"); err != nil {
			return nil, err
		}
		out := &ec2.DescribeVpcsOutput{}
		for _, id := range sortedKeys(d.VPCs) {
			if len(in.VpcIds) > 0 && !slices.Contains(in.VpcIds, id) {
				continue
			}
			v := d.VPCs[id]
			x := ec2types.Vpc{VpcId: aws.String(id), CidrBlock: aws.String(v.CIDRs[0]), State: ec2types.VpcStateAvailable, OwnerId: aws.String(Account)}
			for i, cidr := range v.CIDRs {
				x.CidrBlockAssociationSet = append(x.CidrBlockAssociationSet, ec2types.VpcCidrBlockAssociation{
					AssociationId: aws.String(fmt.Sprintf("vpc-cidr-assoc-%s-%d", id[4:], i)), CidrBlock: aws.String(cidr),
					CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeAssociated}})
			}
			out.Vpcs = append(out.Vpcs, x)
		}
		return out, nil
	})
}

// DescribeSubnets implements the EC2 call (SubnetIds; filters vpc-id,
// subnet-id, availability-zone; pages with MaxResults).
func (c *EC2) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	return do(ctx, c.w, "ec2.DescribeSubnets", in, func(in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
		d := &c.w.db
		f, err := parseFilters(in.Filters, "vpc-id", "subnet-id", "availability-zone")
		if err != nil {
			return nil, err
		}
		if err := missing(in.SubnetIds, func(id string) bool { return d.Subnets[id] != nil }, "InvalidSubnetID.NotFound", "subnet"); err != nil {
			return nil, err
		}
		var all []ec2types.Subnet
		for _, id := range sortedKeys(d.Subnets) {
			s := d.Subnets[id]
			if (len(in.SubnetIds) > 0 && !slices.Contains(in.SubnetIds, id)) || !f.match("vpc-id", s.VPC) || !f.match("subnet-id", id) || !f.match("availability-zone", s.AZ) {
				continue
			}
			all = append(all, ec2types.Subnet{SubnetId: aws.String(id), VpcId: aws.String(s.VPC), AvailabilityZone: aws.String(s.AZ),
				CidrBlock: aws.String(s.CIDR), AvailableIpAddressCount: aws.Int32(int32(d.freeIPs(s))), State: ec2types.SubnetStateAvailable,
				OwnerId: aws.String(Account), Tags: ec2Tags(s.Tags), MapPublicIpOnLaunch: aws.Bool(false)})
		}
		items, next, err := ec2Page(all, in.NextToken, in.MaxResults)
		return &ec2.DescribeSubnetsOutput{Subnets: items, NextToken: next}, err
	})
}

// ec2Page pages as EC2 does: MaxResults 5..1000 when set.
func ec2Page[T any](items []T, token *string, max *int32) ([]T, *string, error) {
	if max != nil && (*max < 5 || *max > 1000) {
		return nil, nil, Err("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", *max)
	}
	out, next, err := page(items, aws.ToString(token), int(aws.ToInt32(max)))
	return out, optional(next), err
}

// DescribeRouteTables implements the EC2 call (RouteTableIds; filters vpc-id,
// route-table-id, association.subnet-id (explicit associations only, as in
// AWS), association.main; pages with MaxResults).
func (c *EC2) DescribeRouteTables(ctx context.Context, in *ec2.DescribeRouteTablesInput, _ ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error) {
	return do(ctx, c.w, "ec2.DescribeRouteTables", in, func(in *ec2.DescribeRouteTablesInput) (*ec2.DescribeRouteTablesOutput, error) {
		d := &c.w.db
		f, err := parseFilters(in.Filters, "vpc-id", "route-table-id", "association.subnet-id", "association.main")
		if err != nil {
			return nil, err
		}
		if err := missing(in.RouteTableIds, func(id string) bool { return d.RouteTables[id] != nil }, "InvalidRouteTableID.NotFound", "route table"); err != nil {
			return nil, err
		}
		var all []ec2types.RouteTable
		for _, id := range sortedKeys(d.RouteTables) {
			rt := d.RouteTables[id]
			subnets := sortedKeys(rt.Subnets)
			if (len(in.RouteTableIds) > 0 && !slices.Contains(in.RouteTableIds, id)) || !f.match("vpc-id", rt.VPC) ||
				!f.match("route-table-id", id) || !f.match("association.subnet-id", subnets...) || !f.match("association.main", fmt.Sprint(rt.Main)) {
				continue
			}
			all = append(all, routeTable(rt, subnets))
		}
		items, next, err := ec2Page(all, in.NextToken, in.MaxResults)
		return &ec2.DescribeRouteTablesOutput{RouteTables: items, NextToken: next}, err
	})
}

func routeTable(rt *RouteTable, subnets []string) ec2types.RouteTable {
	x := ec2types.RouteTable{RouteTableId: aws.String(rt.ID), VpcId: aws.String(rt.VPC), OwnerId: aws.String(Account), Tags: ec2Tags(rt.Tags)}
	associated := &ec2types.RouteTableAssociationState{State: ec2types.RouteTableAssociationStateCodeAssociated}
	if rt.Main {
		x.Associations = append(x.Associations, ec2types.RouteTableAssociation{Main: aws.Bool(true), RouteTableId: aws.String(rt.ID),
			RouteTableAssociationId: aws.String("rtbassoc-main" + rt.ID[4:]), AssociationState: associated})
	}
	for _, s := range subnets {
		x.Associations = append(x.Associations, ec2types.RouteTableAssociation{Main: aws.Bool(false), RouteTableId: aws.String(rt.ID),
			SubnetId: aws.String(s), RouteTableAssociationId: aws.String(rt.Subnets[s]), AssociationState: associated})
	}
	for _, r := range rt.Routes {
		y := ec2types.Route{DestinationCidrBlock: aws.String(r.Dest), State: ec2types.RouteStateActive, Origin: ec2types.RouteOriginCreateRoute}
		if r.Blackhole {
			y.State = ec2types.RouteStateBlackhole
		}
		switch {
		case r.Target == "local":
			y.GatewayId, y.Origin = aws.String("local"), ec2types.RouteOriginCreateRouteTable
		case strings.HasPrefix(r.Target, "nat-"):
			y.NatGatewayId = aws.String(r.Target)
		case strings.HasPrefix(r.Target, "i-"):
			y.InstanceId = aws.String(r.Target)
		case strings.HasPrefix(r.Target, "tgw-"):
			y.TransitGatewayId = aws.String(r.Target)
		default: // igw-…, and vpce-… (a Gateway Load Balancer endpoint) as AWS shows them
			y.GatewayId = aws.String(r.Target)
		}
		x.Routes = append(x.Routes, y)
	}
	return x
}

// DescribeInternetGateways implements the EC2 call (InternetGatewayIds;
// filters attachment.vpc-id, internet-gateway-id).
func (c *EC2) DescribeInternetGateways(ctx context.Context, in *ec2.DescribeInternetGatewaysInput, _ ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error) {
	return do(ctx, c.w, "ec2.DescribeInternetGateways", in, func(in *ec2.DescribeInternetGatewaysInput) (*ec2.DescribeInternetGatewaysOutput, error) {
		d := &c.w.db
		f, err := parseFilters(in.Filters, "attachment.vpc-id", "internet-gateway-id")
		if err != nil {
			return nil, err
		}
		if err := missing(in.InternetGatewayIds, func(id string) bool { _, ok := d.IGWs[id]; return ok }, "InvalidInternetGatewayID.NotFound", "internet gateway"); err != nil {
			return nil, err
		}
		var all []ec2types.InternetGateway
		for _, id := range sortedKeys(d.IGWs) {
			vpc := d.IGWs[id]
			if (len(in.InternetGatewayIds) > 0 && !slices.Contains(in.InternetGatewayIds, id)) || !f.match("internet-gateway-id", id) ||
				(f["attachment.vpc-id"] != nil && (vpc == "" || !f.match("attachment.vpc-id", vpc))) {
				continue
			}
			g := ec2types.InternetGateway{InternetGatewayId: aws.String(id), OwnerId: aws.String(Account)}
			if vpc != "" {
				g.Attachments = []ec2types.InternetGatewayAttachment{{VpcId: aws.String(vpc), State: ec2types.AttachmentStatus("available")}}
			}
			all = append(all, g)
		}
		items, next, err := ec2Page(all, in.NextToken, in.MaxResults)
		return &ec2.DescribeInternetGatewaysOutput{InternetGateways: items, NextToken: next}, err
	})
}

// DescribeNetworkAcls implements the EC2 call (NetworkAclIds; filters vpc-id,
// network-acl-id, association.subnet-id, default; pages with MaxResults).
// Entries end with AWS's "*" rules (32767, deny all) in both directions.
func (c *EC2) DescribeNetworkAcls(ctx context.Context, in *ec2.DescribeNetworkAclsInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkAclsOutput, error) {
	return do(ctx, c.w, "ec2.DescribeNetworkAcls", in, func(in *ec2.DescribeNetworkAclsInput) (*ec2.DescribeNetworkAclsOutput, error) {
		d := &c.w.db
		f, err := parseFilters(in.Filters, "vpc-id", "network-acl-id", "association.subnet-id", "default")
		if err != nil {
			return nil, err
		}
		if err := missing(in.NetworkAclIds, func(id string) bool { return d.NACLs[id] != nil }, "InvalidNetworkAclID.NotFound", "network ACL"); err != nil {
			return nil, err
		}
		var all []ec2types.NetworkAcl
		for _, id := range sortedKeys(d.NACLs) {
			a := d.NACLs[id]
			if (len(in.NetworkAclIds) > 0 && !slices.Contains(in.NetworkAclIds, id)) || !f.match("vpc-id", a.VPC) || !f.match("network-acl-id", id) ||
				!f.match("association.subnet-id", a.Subnets...) || !f.match("default", fmt.Sprint(a.Default)) {
				continue
			}
			x := ec2types.NetworkAcl{NetworkAclId: aws.String(id), VpcId: aws.String(a.VPC), IsDefault: aws.Bool(a.Default), OwnerId: aws.String(Account)}
			for i, s := range a.Subnets {
				x.Associations = append(x.Associations, ec2types.NetworkAclAssociation{NetworkAclId: aws.String(id), SubnetId: aws.String(s),
					NetworkAclAssociationId: aws.String(fmt.Sprintf("aclassoc-%s-%d", id[4:], i))})
			}
			entries := append(append([]NACLEntry(nil), a.Entries...),
				NACLEntry{Number: 32767, Protocol: "-1", CIDR: "0.0.0.0/0"}, NACLEntry{Number: 32767, Egress: true, Protocol: "-1", CIDR: "0.0.0.0/0"})
			for _, e := range entries {
				y := ec2types.NetworkAclEntry{RuleNumber: aws.Int32(e.Number), Egress: aws.Bool(e.Egress), Protocol: aws.String(e.Protocol),
					CidrBlock: aws.String(e.CIDR), RuleAction: ec2types.RuleActionDeny}
				if e.Allow {
					y.RuleAction = ec2types.RuleActionAllow
				}
				if e.Protocol == "6" || e.Protocol == "17" {
					y.PortRange = &ec2types.PortRange{From: aws.Int32(e.From), To: aws.Int32(e.To)}
				}
				x.Entries = append(x.Entries, y)
			}
			all = append(all, x)
		}
		items, next, err := ec2Page(all, in.NextToken, in.MaxResults)
		return &ec2.DescribeNetworkAclsOutput{NetworkAcls: items, NextToken: next}, err
	})
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}
