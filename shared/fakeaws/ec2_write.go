package fakeaws

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// AWS quotas the fake enforces (the defaults).
const (
	MaxSubnetsPerVPC   = 200
	MaxRulesPerGroup   = 60 // per direction
	MaxNACLEntries     = 20 // per direction
	MinLBSubnetFreeIPs = 8
)

// CreateSubnet implements the EC2 call: InvalidSubnet.Range outside the VPC's
// blocks or for a prefix not /16../28, InvalidSubnet.Conflict on overlap.
func (c *EC2) CreateSubnet(ctx context.Context, in *ec2.CreateSubnetInput, _ ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error) {
	return do(ctx, c.w, "ec2.CreateSubnet", in, func(in *ec2.CreateSubnetInput) (*ec2.CreateSubnetOutput, error) {
		s, err := c.w.createSubnet(aws.ToString(in.VpcId), aws.ToString(in.AvailabilityZone), aws.ToString(in.CidrBlock), specTags(in.TagSpecifications, ec2types.ResourceTypeSubnet))
		if err != nil {
			return nil, err
		}
		return &ec2.CreateSubnetOutput{Subnet: &ec2types.Subnet{SubnetId: aws.String(s.ID), VpcId: aws.String(s.VPC),
			AvailabilityZone: aws.String(s.AZ), CidrBlock: aws.String(s.CIDR), State: ec2types.SubnetStatePending,
			AvailableIpAddressCount: aws.Int32(int32(c.w.db.freeIPs(s))), Tags: ec2Tags(s.Tags)}}, nil
	})
}

func (w *World) createSubnet(vpcID, az, cidr string, tags map[string]string) (*Subnet, error) {
	d := &w.db
	vpc := d.VPCs[vpcID]
	if vpc == nil {
		return nil, Err("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpcID)
	}
	if !slices.Contains(Zones, az) {
		return nil, Err("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.", az, strings.Join(Zones, ", "))
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return nil, Err("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", cidr)
	}
	if p.Bits() < 16 || p.Bits() > 28 || !vpc.contains(p) {
		return nil, Err("InvalidSubnet.Range", "The CIDR '%s' is invalid.", cidr)
	}
	n := 0
	for _, s := range d.Subnets {
		if s.VPC != vpcID {
			continue
		}
		n++
		if netip.MustParsePrefix(s.CIDR).Overlaps(p) {
			return nil, Err("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", cidr)
		}
	}
	if n >= MaxSubnetsPerVPC {
		return nil, Err("SubnetLimitExceeded", "The maximum number of subnets has been reached.")
	}
	s := &Subnet{ID: w.id("subnet"), VPC: vpcID, AZ: az, CIDR: cidr, Tags: tags}
	d.Subnets[s.ID] = s
	acl := d.NACLs[vpc.DefaultNACL]
	acl.Subnets = append(acl.Subnets, s.ID)
	return s, nil
}

func specTags(specs []ec2types.TagSpecification, rt ec2types.ResourceType) map[string]string {
	var m map[string]string
	for _, s := range specs {
		if s.ResourceType != rt {
			continue
		}
		for _, t := range s.Tags {
			if m == nil {
				m = map[string]string{}
			}
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return m
}

// CreateRouteTable implements the EC2 call: a table with the VPC's local routes.
func (c *EC2) CreateRouteTable(ctx context.Context, in *ec2.CreateRouteTableInput, _ ...func(*ec2.Options)) (*ec2.CreateRouteTableOutput, error) {
	return do(ctx, c.w, "ec2.CreateRouteTable", in, func(in *ec2.CreateRouteTableInput) (*ec2.CreateRouteTableOutput, error) {
		rt, err := c.w.createRouteTable(aws.ToString(in.VpcId), specTags(in.TagSpecifications, ec2types.ResourceTypeRouteTable))
		if err != nil {
			return nil, err
		}
		x := routeTable(rt, nil)
		return &ec2.CreateRouteTableOutput{RouteTable: &x}, nil
	})
}

func (w *World) createRouteTable(vpcID string, tags map[string]string) (*RouteTable, error) {
	vpc := w.db.VPCs[vpcID]
	if vpc == nil {
		return nil, Err("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpcID)
	}
	rt := &RouteTable{ID: w.id("rtb"), VPC: vpcID, Subnets: map[string]string{}, Tags: tags}
	for _, cidr := range vpc.CIDRs {
		rt.Routes = append(rt.Routes, Route{Dest: cidr, Target: "local"})
	}
	w.db.RouteTables[rt.ID] = rt
	return rt, nil
}

// CreateRoute implements the EC2 call: RouteAlreadyExists for a destination
// the table routes already; an internet gateway must be attached to the VPC.
func (c *EC2) CreateRoute(ctx context.Context, in *ec2.CreateRouteInput, _ ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error) {
	return do(ctx, c.w, "ec2.CreateRoute", in, func(in *ec2.CreateRouteInput) (*ec2.CreateRouteOutput, error) {
		target := aws.ToString(in.GatewayId)
		if target == "" {
			target = aws.ToString(in.NatGatewayId)
		}
		if target == "" {
			target = aws.ToString(in.InstanceId)
		}
		if target == "" {
			return nil, Err("MissingParameter", "The request must contain exactly one of gatewayId, natGatewayId, instanceId")
		}
		err := c.w.addRoute(aws.ToString(in.RouteTableId), Route{Dest: aws.ToString(in.DestinationCidrBlock), Target: target})
		if err != nil {
			return nil, err
		}
		return &ec2.CreateRouteOutput{Return: aws.Bool(true)}, nil
	})
}

func (w *World) addRoute(rtID string, r Route) error {
	rt := w.db.RouteTables[rtID]
	if rt == nil {
		return Err("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", rtID)
	}
	if _, err := netip.ParsePrefix(r.Dest); err != nil {
		return Err("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.", r.Dest)
	}
	if strings.HasPrefix(r.Target, "igw-") {
		vpc, ok := w.db.IGWs[r.Target]
		if !ok {
			return Err("InvalidInternetGatewayID.NotFound", "The internetGateway ID '%s' does not exist", r.Target)
		}
		if vpc != rt.VPC {
			return Err("InvalidParameterValue", "route table %s and network gateway %s belong to different networks", rtID, r.Target)
		}
	}
	for _, x := range rt.Routes {
		if x.Dest == r.Dest {
			return Err("RouteAlreadyExists", "The route identified by %s already exists.", r.Dest)
		}
	}
	rt.Routes = append(rt.Routes, r)
	return nil
}

// AssociateRouteTable implements the EC2 call: Resource.AlreadyAssociated when
// the subnet has an explicit association already (with any table).
func (c *EC2) AssociateRouteTable(ctx context.Context, in *ec2.AssociateRouteTableInput, _ ...func(*ec2.Options)) (*ec2.AssociateRouteTableOutput, error) {
	return do(ctx, c.w, "ec2.AssociateRouteTable", in, func(in *ec2.AssociateRouteTableInput) (*ec2.AssociateRouteTableOutput, error) {
		id, err := c.w.associate(aws.ToString(in.RouteTableId), aws.ToString(in.SubnetId))
		if err != nil {
			return nil, err
		}
		return &ec2.AssociateRouteTableOutput{AssociationId: aws.String(id),
			AssociationState: &ec2types.RouteTableAssociationState{State: ec2types.RouteTableAssociationStateCodeAssociated}}, nil
	})
}

func (w *World) associate(rtID, subnetID string) (string, error) {
	d := &w.db
	rt := d.RouteTables[rtID]
	if rt == nil {
		return "", Err("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", rtID)
	}
	s := d.Subnets[subnetID]
	if s == nil {
		return "", Err("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", subnetID)
	}
	if s.VPC != rt.VPC {
		return "", Err("InvalidParameterValue", "Route table %s and subnet %s belong to different networks", rtID, subnetID)
	}
	if d.explicitTable(subnetID) != nil {
		return "", Err("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with an existing association", rtID)
	}
	id := w.id("rtbassoc")
	rt.Subnets[subnetID] = id
	return id, nil
}

// AuthorizeSecurityGroupIngress implements the EC2 call (see authorize).
func (c *EC2) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return do(ctx, c.w, "ec2.AuthorizeSecurityGroupIngress", in, func(in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
		rules, err := rulesOf(in.IpPermissions)
		if err == nil {
			err = c.w.authorize(aws.ToString(in.GroupId), false, rules)
		}
		if err != nil {
			return nil, err
		}
		return &ec2.AuthorizeSecurityGroupIngressOutput{Return: aws.Bool(true)}, nil
	})
}

// AuthorizeSecurityGroupEgress implements the EC2 call (see authorize).
func (c *EC2) AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2.AuthorizeSecurityGroupEgressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
	return do(ctx, c.w, "ec2.AuthorizeSecurityGroupEgress", in, func(in *ec2.AuthorizeSecurityGroupEgressInput) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
		rules, err := rulesOf(in.IpPermissions)
		if err == nil {
			err = c.w.authorize(aws.ToString(in.GroupId), true, rules)
		}
		if err != nil {
			return nil, err
		}
		return &ec2.AuthorizeSecurityGroupEgressOutput{Return: aws.Bool(true)}, nil
	})
}

var protocolNames = map[string]string{"6": "tcp", "17": "udp", "1": "icmp"}

// rulesOf flattens permissions to one rule per peer, with protocol numbers
// 6, 17 and 1 named as AWS names them.
func rulesOf(perms []ec2types.IpPermission) ([]Rule, error) {
	var out []Rule
	for _, p := range perms {
		base := Rule{Protocol: strings.ToLower(aws.ToString(p.IpProtocol)), From: aws.ToInt32(p.FromPort), To: aws.ToInt32(p.ToPort)}
		if name, ok := protocolNames[base.Protocol]; ok {
			base.Protocol = name
		}
		switch base.Protocol {
		case "-1":
			base.From, base.To = -1, -1
		case "tcp", "udp":
			if p.FromPort == nil || p.ToPort == nil || base.From < 0 || base.To > 65535 || base.From > base.To {
				return nil, Err("InvalidParameterValue", "Invalid port range %d-%d for protocol %s", base.From, base.To, base.Protocol)
			}
		case "":
			return nil, Err("MissingParameter", "The request must contain the parameter ipProtocol")
		}
		for _, g := range p.UserIdGroupPairs {
			r := base
			r.Group, r.Description = aws.ToString(g.GroupId), aws.ToString(g.Description)
			out = append(out, r)
		}
		for _, x := range p.IpRanges {
			r := base
			r.CIDR, r.Description = aws.ToString(x.CidrIp), aws.ToString(x.Description)
			out = append(out, r)
		}
		for _, x := range p.Ipv6Ranges {
			r := base
			r.CIDR, r.Description = aws.ToString(x.CidrIpv6), aws.ToString(x.Description)
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, Err("MissingParameter", "The request must contain the parameter ipPermissions")
	}
	return out, nil
}

// authorize adds rules to a group, all or none: InvalidGroup.NotFound for an
// unknown group or peer group, InvalidPermission.Duplicate when one exists
// already, RulesPerSecurityGroupLimitExceeded past 60 rules in the direction.
func (w *World) authorize(groupID string, egress bool, rules []Rule) error {
	g := w.db.Groups[groupID]
	if g == nil {
		return Err("InvalidGroup.NotFound", "The security group '%s' does not exist", groupID)
	}
	have := &g.Ingress
	if egress {
		have = &g.Egress
	}
	for i, r := range rules {
		if r.Group != "" && w.db.Groups[r.Group] == nil {
			return Err("InvalidGroup.NotFound", "The security group '%s' does not exist", r.Group)
		}
		if r.CIDR != "" {
			if _, err := netip.ParsePrefix(r.CIDR); err != nil {
				return Err("InvalidParameterValue", "CIDR block %s is malformed", r.CIDR)
			}
		}
		if slices.ContainsFunc(*have, r.same) || slices.ContainsFunc(rules[:i], r.same) {
			peer := r.Group + r.CIDR
			return Err("InvalidPermission.Duplicate", "the specified rule \"peer: %s, %s, from port: %d, to port: %d, ALLOW\" already exists", peer, strings.ToUpper(r.Protocol), r.From, r.To)
		}
	}
	if len(*have)+len(rules) > MaxRulesPerGroup {
		return Err("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
	}
	*have = append(*have, rules...)
	return nil
}

// CreateNetworkAclEntry implements the EC2 call: NetworkAclEntryAlreadyExists
// for a rule number taken in that direction, a limit of 20 entries each way.
func (c *EC2) CreateNetworkAclEntry(ctx context.Context, in *ec2.CreateNetworkAclEntryInput, _ ...func(*ec2.Options)) (*ec2.CreateNetworkAclEntryOutput, error) {
	return do(ctx, c.w, "ec2.CreateNetworkAclEntry", in, func(in *ec2.CreateNetworkAclEntryInput) (*ec2.CreateNetworkAclEntryOutput, error) {
		e := NACLEntry{Number: aws.ToInt32(in.RuleNumber), Egress: aws.ToBool(in.Egress), Protocol: aws.ToString(in.Protocol),
			CIDR: aws.ToString(in.CidrBlock), Allow: in.RuleAction == ec2types.RuleActionAllow}
		if in.PortRange != nil {
			e.From, e.To = aws.ToInt32(in.PortRange.From), aws.ToInt32(in.PortRange.To)
		}
		if in.RuleAction != ec2types.RuleActionAllow && in.RuleAction != ec2types.RuleActionDeny {
			return nil, Err("InvalidParameterValue", "Value (%s) for parameter ruleAction is invalid.", in.RuleAction)
		}
		if (e.Protocol == "6" || e.Protocol == "17") && in.PortRange == nil {
			return nil, Err("InvalidParameterValue", "Value for parameter portRange is required for protocol %s.", e.Protocol)
		}
		if err := c.w.addNACLEntry(aws.ToString(in.NetworkAclId), e); err != nil {
			return nil, err
		}
		return &ec2.CreateNetworkAclEntryOutput{}, nil
	})
}

func (w *World) addNACLEntry(aclID string, e NACLEntry) error {
	acl := w.db.NACLs[aclID]
	if acl == nil {
		return Err("InvalidNetworkAclID.NotFound", "The networkAcl ID '%s' does not exist", aclID)
	}
	if e.Number < 1 || e.Number > 32766 {
		return Err("InvalidParameterValue", "Value (%d) for parameter ruleNumber is invalid. The rule number must be between 1 and 32766.", e.Number)
	}
	if _, err := netip.ParsePrefix(e.CIDR); err != nil {
		return Err("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", e.CIDR)
	}
	n := 0
	for _, x := range acl.Entries {
		if x.Egress != e.Egress {
			continue
		}
		n++
		if x.Number == e.Number {
			return Err("NetworkAclEntryAlreadyExists", "The network acl entry identified by %d already exists.", e.Number)
		}
	}
	if n >= MaxNACLEntries {
		return Err("NetworkAclEntryLimitExceeded", "The maximum number of network acl entries has been reached.")
	}
	acl.Entries = append(acl.Entries, e)
	return nil
}
