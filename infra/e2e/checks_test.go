package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

// TestChecklist covers the rest of the checklist: egress, the load
// balancer's own group, network ACLs (warned about, or fixed), NAT.
func TestChecklist(t *testing.T) {
	t.Parallel()
	t.Run("restricted load balancer egress gets a rule to the instance's group", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		restrictEgress(t, s, s.alb.SecurityGroup)
		attachOK(t, s)
		want := []string{"tcp/443 to 0.0.0.0/0", "tcp/80 to " + s.inst.SecurityGroup}
		if got := s.egress(s.alb.SecurityGroup); !cmp.Equal(got, want) {
			t.Errorf("ALB egress = %v, want %v", got, want)
		}
	})
	t.Run("default egress is left alone", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		attachOK(t, s)
		if got := s.egress(s.alb.SecurityGroup); !cmp.Equal(got, []string{"-1/0 to 0.0.0.0/0"}) {
			t.Errorf("ALB egress = %v", got)
		}
	})
	// Every run that changes something makes these checks, in a new AZ as
	// in one the load balancer covers (behind ACLs that let everything
	// through).
	for name, covered := range map[string]bool{"new AZ": false, "covered AZ": true} {
		t.Run("listener port closed to clients and no NAT: warned, "+name, func(t *testing.T) {
			t.Parallel()
			s := newScenario(t, func(o *options) {
				if covered {
					o.vpc.PrivateSubnets = map[string][]string{"a": {"10.0.2.0/24"}}
				}
			})
			_, err := s.ec2.RevokeSecurityGroupIngress(s.ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(s.alb.SecurityGroup),
				IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80),
					IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
			if err != nil {
				t.Fatal(err)
			}
			r := attachOK(t, s)
			if hasChange(r, "subnet") == covered {
				t.Errorf("changes = %v: want subnet work only in the new AZ", r.Changes)
			}
			if !hasWarning(r, "do not allow listener port tcp/80 from clients") {
				t.Errorf("warnings = %v, want the listener one", r.Warnings)
			}
			if !hasWarning(r, "has no 0.0.0.0/0 route to a NAT gateway") {
				t.Errorf("warnings = %v, want the NAT one", r.Warnings)
			}
		})
	}
	t.Run("NAT gateway route: no NAT warning", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		natRoute(t, s)
		r := attachOK(t, s)
		if hasWarning(r, "NAT") {
			t.Errorf("warnings = %v, want none about NAT", r.Warnings)
		}
	})
	t.Run("network ACLs missing rules: warned, each naming the ACL and the rule", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		acl := strictACL(t, s)
		r := attachOK(t, s)
		want := []string{
			fmt.Sprintf("network ACL %s of instance subnet %s does not allow inbound tcp/80 from 10.0.3.0/27", acl, s.inst.SubnetID),
			fmt.Sprintf("network ACL %s of instance subnet %s does not allow outbound tcp/1024-65535 to 10.0.3.0/27", acl, s.inst.SubnetID),
		}
		for _, w := range want {
			if !hasWarning(r, w) {
				t.Errorf("warnings = %v\nwant %q", r.Warnings, w)
			}
		}
		if got := s.aclEntries(acl); len(got) != 0 {
			t.Errorf("without FIX_NACLS the ACL changed: %v", got)
		}
	})
	t.Run("FIX_NACLS adds the missing rules at the lowest free numbers", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		acl := strictACL(t, s)
		r := attachOK(t, s, "FIX_NACLS=true")
		got := s.aclEntries(acl)
		want := []string{"in 1 allow tcp 80-80 10.0.3.0/27", "out 1 allow tcp 1024-65535 10.0.3.0/27"}
		if !cmp.Equal(got, want) {
			t.Errorf("ACL entries = %v\nwant %v\n(report %v)", got, want, r.Changes)
		}
		if hasWarning(r, "network ACL") {
			t.Errorf("fixed rules still warned about: %v", r.Warnings)
		}
	})
	t.Run("diagnose reports every hop and changes nothing", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, nil)
		before := s.world()
		r, ferr := invoke(t, function(t, StateFn), []byte(fmt.Sprintf(`{"instance-id": %q, "action": "diagnose"}`, s.inst.ID)))
		if ferr != nil {
			t.Fatal(ferr)
		}
		if diff := cmp.Diff(before, s.world()); diff != "" {
			t.Errorf("diagnose changed the world:\n%s", diff)
		}
		checks := map[string]bool{}
		for _, c := range r.Targets[0].Diagnosis {
			checks[c.Check] = c.OK
		}
		want := map[string]bool{"instance running": true, "target opted in": true, "internet-facing": true, "same VPC": true,
			"public subnet in the instance's AZ": false, "instance security group lets the load balancer in": false,
			"registered": false}
		for k, v := range want {
			if got, ok := checks[k]; !ok || got != v {
				t.Errorf("check %q = %v (present %v), want %v; all: %v", k, got, ok, v, r.Targets[0].Diagnosis)
			}
		}
		if len(r.Changes) == 0 || !r.DryRun {
			t.Errorf("diagnose should show what attach would change: %v", r.Changes)
		}
		attachOK(t, s)
		r, _ = invoke(t, function(t, StateFn), []byte(fmt.Sprintf(`{"instance-id": %q, "action": "diagnose"}`, s.inst.ID)))
		for _, c := range r.Targets[0].Diagnosis {
			if !c.OK && !strings.Contains(c.Check, "NAT") {
				t.Errorf("after attach, %s", c)
			}
		}
	})
}

// strictACL gives the instance's subnet a new ACL that denies everything
// and returns its ID. (AWS shows the implicit deny as rule 32767; moto shows
// no entries at all. Either way nothing is allowed.)
func strictACL(t *testing.T, s *scenario) string {
	t.Helper()
	out, err := s.ec2.CreateNetworkAcl(s.ctx, &ec2.CreateNetworkAclInput{VpcId: aws.String(s.vpc.ID)})
	if err != nil {
		t.Fatal(err)
	}
	acl := aws.ToString(out.NetworkAcl.NetworkAclId)
	cur, err := s.ec2.DescribeNetworkAcls(s.ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{s.inst.SubnetID}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cur.NetworkAcls[0].Associations {
		if aws.ToString(a.SubnetId) == s.inst.SubnetID {
			if _, err := s.ec2.ReplaceNetworkAclAssociation(s.ctx, &ec2.ReplaceNetworkAclAssociationInput{
				AssociationId: a.NetworkAclAssociationId, NetworkAclId: aws.String(acl)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return acl
}

func (s *scenario) aclEntries(acl string) []string {
	out, err := s.ec2.DescribeNetworkAcls(s.ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{acl}})
	if err != nil {
		s.t.Fatal(err)
	}
	var l []string
	for _, e := range out.NetworkAcls[0].Entries {
		dir, proto := "in", aws.ToString(e.Protocol)
		if aws.ToBool(e.Egress) {
			dir = "out"
		}
		if proto == "6" {
			proto = "tcp"
		}
		var from, to int32
		if e.PortRange != nil {
			from, to = aws.ToInt32(e.PortRange.From), aws.ToInt32(e.PortRange.To)
		}
		l = append(l, fmt.Sprintf("%s %d %s %s %d-%d %s", dir, aws.ToInt32(e.RuleNumber), e.RuleAction, proto, from, to, aws.ToString(e.CidrBlock)))
	}
	slices.Sort(l)
	return l
}

// natRoute gives the VPC's main route table (the private subnet's) a default
// route to a NAT gateway in a public subnet.
func natRoute(t *testing.T, s *scenario) {
	t.Helper()
	eip, err := s.ec2.AllocateAddress(s.ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	nat, err := s.ec2.CreateNatGateway(s.ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(s.vpc.Subnets["10.0.0.0/24"]), AllocationId: eip.AllocationId})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ec2.CreateRoute(s.ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(s.vpc.MainRouteTable),
		DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: nat.NatGateway.NatGatewayId})
	if err != nil {
		t.Fatal(err)
	}
}
