// Package apply carries out a plan's steps, in order, through the mutating
// AWS calls it declares. "Already there" counts as done; the ID of a subnet or
// route table created by one step is handed to the steps after it.
//
// When AWS shows that the world moved between observe and apply (another run
// created the same subnet block, or changed the load balancer's subnets), Run
// returns an error wrapping ErrStale: the caller observes again and re-plans.
package apply

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/plan"
	"github.com/elbattach/elbattach/shared/state"
)

// EC2 is the part of the EC2 API apply changes things with.
type EC2 interface {
	CreateSubnet(context.Context, *ec2.CreateSubnetInput, ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	CreateRouteTable(context.Context, *ec2.CreateRouteTableInput, ...func(*ec2.Options)) (*ec2.CreateRouteTableOutput, error)
	CreateRoute(context.Context, *ec2.CreateRouteInput, ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error)
	AssociateRouteTable(context.Context, *ec2.AssociateRouteTableInput, ...func(*ec2.Options)) (*ec2.AssociateRouteTableOutput, error)
	AuthorizeSecurityGroupIngress(context.Context, *ec2.AuthorizeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	AuthorizeSecurityGroupEgress(context.Context, *ec2.AuthorizeSecurityGroupEgressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error)
	CreateNetworkAclEntry(context.Context, *ec2.CreateNetworkAclEntryInput, ...func(*ec2.Options)) (*ec2.CreateNetworkAclEntryOutput, error)
}

// ELBv2 is the part of the Elastic Load Balancing v2 API apply uses.
type ELBv2 interface {
	DescribeLoadBalancers(context.Context, *elbv2.DescribeLoadBalancersInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	SetSubnets(context.Context, *elbv2.SetSubnetsInput, ...func(*elbv2.Options)) (*elbv2.SetSubnetsOutput, error)
	RegisterTargets(context.Context, *elbv2.RegisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
}

// ClassicELB is the part of the Classic Elastic Load Balancing API apply uses.
type ClassicELB interface {
	DescribeLoadBalancers(context.Context, *elb.DescribeLoadBalancersInput, ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	AttachLoadBalancerToSubnets(context.Context, *elb.AttachLoadBalancerToSubnetsInput, ...func(*elb.Options)) (*elb.AttachLoadBalancerToSubnetsOutput, error)
	RegisterInstancesWithLoadBalancer(context.Context, *elb.RegisterInstancesWithLoadBalancerInput, ...func(*elb.Options)) (*elb.RegisterInstancesWithLoadBalancerOutput, error)
	DeregisterInstancesFromLoadBalancer(context.Context, *elb.DeregisterInstancesFromLoadBalancerInput, ...func(*elb.Options)) (*elb.DeregisterInstancesFromLoadBalancerOutput, error)
}

var (
	_ EC2        = (*ec2.Client)(nil)
	_ ELBv2      = (*elbv2.Client)(nil)
	_ ClassicELB = (*elb.Client)(nil)
)

// ErrStale means AWS changed under the plan; observe again and re-plan.
var ErrStale = errors.New("state changed while applying")

// DefaultSettle is how long to wait after SetSubnets before reading the load
// balancer back. SetSubnets replaces the whole list, so a concurrent run that
// read the list before our write can still write its own, older list after
// it. Every run writes a list read less than half this delay before (see
// Applier.TrustList), so such a lost update lands within that half of our
// write; the read-back then sees it and we add the subnet again.
const DefaultSettle = time.Second

// Applier runs plans.
type Applier struct {
	EC2 EC2
	ELB ELBv2
	CLB ClassicELB
	// Settle overrides DefaultSettle (tests shorten it).
	Settle time.Duration
	// TrustList is how long after the load balancer was read the plan's
	// subnet list is written as it is; older, it is read again first. 0
	// means Settle/2: it must stay below the settle delay minus a write's
	// latency, or the read-back can miss a lost update.
	TrustList time.Duration
	// Backoff, when set, replaces the SDK's backoff between SetSubnets
	// attempts (tests shorten it).
	Backoff time.Duration
}

// Run applies p's steps in order and returns the lines of what it changed.
// On error, the lines say what was done before the failure.
func (a *Applier) Run(ctx context.Context, p plan.Plan) ([]string, error) {
	ids := map[string]string{}
	var done []string
	for _, st := range p.Steps {
		st = resolve(st, ids)
		changed, err := a.step(ctx, st, ids)
		if changed { // a write that landed before a later failure (a SetSubnets whose read-back failed) is done too
			done = append(done, resolve(st, ids).String())
		}
		if err != nil {
			return done, fmt.Errorf("%s: %w", st, err)
		}
	}
	return done, nil
}

// resolve replaces the placeholders of st by the IDs created so far.
func resolve(st plan.Step, ids map[string]string) plan.Step {
	sub := func(s string) string {
		if id, ok := ids[s]; ok {
			return id
		}
		return s
	}
	st.Subnet, st.RouteTable = sub(st.Subnet), sub(st.RouteTable)
	if cidr, ok := ids[plan.NewSubnetCIDR]; ok && st.Op == plan.CreateSubnet {
		st.CIDR = cidr
	}
	// A rule the plan wrote for the block it meant to create (an NLB's nodes,
	// the network ACLs) is for the subnet made or adopted instead. The
	// planned block was free when planned: no other peer is that CIDR.
	if planned, cidr := ids[plannedCIDRMark], ids[plan.NewSubnetCIDR]; planned != "" && cidr != planned && st.SourceCIDR == planned {
		st.SourceCIDR = cidr
	}
	if len(st.Subnets) > 0 {
		st.Subnets = slices.Clone(st.Subnets)
		for i := range st.Subnets {
			st.Subnets[i] = sub(st.Subnets[i])
		}
	}
	return st
}

func (a *Applier) step(ctx context.Context, st plan.Step, ids map[string]string) (bool, error) {
	switch st.Op {
	case plan.CreateRouteTable:
		return a.createRouteTable(ctx, st, ids)
	case plan.RouteToIGW:
		return a.routeToIGW(ctx, st)
	case plan.CreateSubnet:
		return a.createSubnet(ctx, st, ids)
	case plan.AssociateRouteTable:
		return a.associate(ctx, st)
	case plan.AddSubnet:
		return a.addSubnet(ctx, st, ids[adoptedMark] != "", ids[contendedMark] != "")
	case plan.AuthorizeIngress:
		return a.authorize(ctx, st)
	case plan.AuthorizeEgress:
		return a.authorizeEgress(ctx, st)
	case plan.AddNACLEntry:
		return a.addNACLEntry(ctx, st)
	case plan.Register:
		if st.LoadBalancerType == "classic" {
			return a.registerClassic(ctx, st)
		}
		return a.register(ctx, st)
	case plan.Deregister:
		if st.LoadBalancerType == "classic" {
			return a.deregisterClassic(ctx, st)
		}
		return a.deregister(ctx, st)
	}
	return false, fmt.Errorf("unknown step %q", st.Op)
}

// adoptedMark records, among the IDs handed from step to step, that the new
// subnet was adopted from a concurrent run rather than created by this one.
const adoptedMark = "<adopted>"

// contendedMark records that CreateSubnet met a concurrent run (a conflict):
// other runs are adding subnets right now, so the load balancer's list is
// read again before SetSubnets however fresh the plan's is.
const contendedMark = "<contended>"

// plannedCIDRMark records the block the plan meant the new subnet to have,
// when the subnet made (next free block) or adopted has another.
const plannedCIDRMark = "<planned-subnet-cidr>"

// maxBlockRetries bounds the next-block attempts of one CreateSubnet step.
const maxBlockRetries = 5

// createSubnet creates the planned block. When another run took it first
// (InvalidSubnet.Conflict) there are two cases. That run made elbattach's
// subnet in this same AZ: it is adopted, and the steps after this one (route
// it, add it to the load balancer) finish it, each treating "already done" as
// done. Or the block went to another AZ's run (a burst across AZs picks the
// same lowest block): then the next free block, by the plan's own rule on a
// fresh list of the VPC's subnets, is tried right away. Neither re-plans.
func (a *Applier) createSubnet(ctx context.Context, st plan.Step, ids map[string]string) (bool, error) {
	cidr := st.CIDR
	for attempt := 0; ; attempt++ {
		out, err := a.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: aws.String(st.VPC), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(st.AZ),
			TagSpecifications: tagSpec(ec2types.ResourceTypeSubnet, st.Tags),
		})
		if awserr.Is(err, awserr.SubnetConflict) {
			if attempt == maxBlockRetries || len(st.VPCCIDRs) == 0 {
				return false, fmt.Errorf("%w: %s is taken (%s)", ErrStale, cidr, awserr.Code(err))
			}
			ids[contendedMark] = "true"
			next, adopt, adoptCIDR, err := a.nextBlock(ctx, st, cidr)
			if err != nil {
				return false, err
			}
			if adopt != "" {
				ids[plan.NewSubnet], ids[plan.NewSubnetCIDR], ids[adoptedMark], ids[plannedCIDRMark] = adopt, adoptCIDR, "true", st.CIDR
				return false, nil
			}
			cidr = next
			continue
		}
		if awserr.Is(err, awserr.SubnetLimitExceeded) {
			return false, fmt.Errorf("%w: %w", plan.ErrSubnetLimit, err)
		}
		if err != nil {
			return false, fmt.Errorf("creating subnet, %w", err)
		}
		ids[plan.NewSubnet], ids[plan.NewSubnetCIDR], ids[plannedCIDRMark] = aws.ToString(out.Subnet.SubnetId), cidr, st.CIDR
		return true, nil
	}
}

// nextBlock reads the VPC's subnets again after a conflict on taken: it
// returns elbattach's subnet in the step's AZ to adopt (and its CIDR, which
// need not be taken: the run that made it may have read the VPC at another
// moment), else the lowest free block now. Only a subnet the plan did not see
// (st.Seen) is adopted: one it saw, it turned down (routed privately since,
// or too full).
func (a *Applier) nextBlock(ctx context.Context, st plan.Step, taken string) (next, adopt, adoptCIDR string, err error) {
	var subnets []state.Subnet
	pages := ec2.NewDescribeSubnetsPaginator(a.EC2, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{st.VPC}}}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", "", "", fmt.Errorf("describing subnets of %s, %w", st.VPC, err)
		}
		for _, sn := range page.Subnets {
			c, _ := netip.ParsePrefix(aws.ToString(sn.CidrBlock))
			subnets = append(subnets, state.Subnet{ID: aws.ToString(sn.SubnetId), CIDR: c})
			if id := aws.ToString(sn.SubnetId); !slices.Contains(st.Seen, id) && aws.ToString(sn.AvailabilityZone) == st.AZ && c.Bits() <= plan.MaxLBSubnetBits && slices.ContainsFunc(sn.Tags, func(t ec2types.Tag) bool {
				return aws.ToString(t.Key) == config.ManagedTagKey && aws.ToString(t.Value) == "true"
			}) {
				return "", aws.ToString(sn.SubnetId), c.String(), nil
			}
		}
	}
	var vpc []netip.Prefix
	for _, c := range st.VPCCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			vpc = append(vpc, p)
		}
	}
	want, _ := netip.ParsePrefix(taken)
	block, ok := plan.FreeBlock(vpc, subnets, want.Bits())
	if !ok {
		return "", "", "", fmt.Errorf("%w: no free /%d in %s after %s was taken", plan.ErrNoSpace, want.Bits(), st.VPC, taken)
	}
	return block.String(), "", "", nil
}

func (a *Applier) createRouteTable(ctx context.Context, st plan.Step, ids map[string]string) (bool, error) {
	out, err := a.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
		VpcId: aws.String(st.VPC), TagSpecifications: tagSpec(ec2types.ResourceTypeRouteTable, st.Tags),
	})
	if err != nil {
		return false, fmt.Errorf("creating route table, %w", err)
	}
	id := aws.ToString(out.RouteTable.RouteTableId)
	ids[plan.NewRouteTable] = id
	_, err = a.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId: aws.String(id), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(st.IGW),
	})
	if err = awserr.IgnoreDuplicate(err); err != nil {
		return false, fmt.Errorf("routing %s to %s, %w", id, st.IGW, err)
	}
	return true, nil
}

// routeToIGW adds the default route to a route table of elbattach's that an
// earlier run left without one. A 0.0.0.0/0 route there now (a concurrent
// run routed it, or someone else did) is a state the plan did not see.
func (a *Applier) routeToIGW(ctx context.Context, st plan.Step) (bool, error) {
	_, err := a.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId: aws.String(st.RouteTable), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(st.IGW),
	})
	if awserr.Is(err, awserr.RouteAlreadyExists) {
		return false, fmt.Errorf("%w: %s has a 0.0.0.0/0 route now (%s)", ErrStale, st.RouteTable, awserr.Code(err))
	}
	if err != nil {
		return false, fmt.Errorf("routing %s to %s, %w", st.RouteTable, st.IGW, err)
	}
	return true, nil
}

func (a *Applier) associate(ctx context.Context, st plan.Step) (bool, error) {
	_, err := a.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{
		RouteTableId: aws.String(st.RouteTable), SubnetId: aws.String(st.Subnet),
	})
	if awserr.Is(err, awserr.AlreadyAssociated) {
		return false, nil // a concurrent run finished the same subnet
	}
	if err != nil {
		return false, fmt.Errorf("associating, %w", err)
	}
	return true, nil
}

func tagSpec(rt ec2types.ResourceType, tags map[string]string) []ec2types.TagSpecification {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	spec := ec2types.TagSpecification{ResourceType: rt}
	for _, k := range keys {
		spec.Tags = append(spec.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return []ec2types.TagSpecification{spec}
}

func (a *Applier) authorize(ctx context.Context, st plan.Step) (bool, error) {
	perm := ec2types.IpPermission{IpProtocol: aws.String(st.Protocol), FromPort: aws.Int32(st.Port), ToPort: aws.Int32(st.Port)}
	if st.SourceGroup != "" {
		perm.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(st.SourceGroup), Description: aws.String(st.Description)}}
	} else {
		perm.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(st.SourceCIDR), Description: aws.String(st.Description)}}
	}
	_, err := a.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(st.Group), IpPermissions: []ec2types.IpPermission{perm},
	})
	return ruleAdded("ingress", err)
}

// ruleAdded reads the answer to adding a security group rule: a duplicate is
// already done; the quota is a refusal.
func ruleAdded(direction string, err error) (bool, error) {
	switch {
	case awserr.Is(err, awserr.PermissionDuplicate):
		return false, nil
	case awserr.Is(err, awserr.RulesLimitExceeded):
		return false, fmt.Errorf("%w: %w", plan.ErrRuleLimit, err)
	case err != nil:
		return false, fmt.Errorf("authorizing %s, %w", direction, err)
	}
	return true, nil
}
