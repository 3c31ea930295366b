package observe

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbattach/elbattach/shared/state"
)

// TestLocalBlocks: the VPC's CIDR blocks are the destinations of the local
// routes, also when a middlebox replaced their target (the route keeps its
// origin); a block no subnet proves is enough, a subnet outside every local
// route sends Network to DescribeVpcs.
func TestLocalBlocks(t *testing.T) {
	route := func(dest, gw string, origin ec2types.RouteOrigin) ec2types.Route {
		return ec2types.Route{DestinationCidrBlock: aws.String(dest), GatewayId: aws.String(gw), Origin: origin}
	}
	tables := []ec2types.RouteTable{
		{Routes: []ec2types.Route{
			route("10.0.0.0/16", "local", ec2types.RouteOriginCreateRouteTable),
			route("0.0.0.0/0", "igw-1", ec2types.RouteOriginCreateRoute),
		}},
		{Routes: []ec2types.Route{
			route("10.0.0.0/16", "local", ec2types.RouteOriginCreateRouteTable),
			{DestinationCidrBlock: aws.String("100.64.0.0/16"), NetworkInterfaceId: aws.String("eni-1"), Origin: ec2types.RouteOriginCreateRouteTable},
			route("192.168.0.0/16", "vgw-1", ec2types.RouteOriginEnableVgwRoutePropagation),
			{DestinationIpv6CidrBlock: aws.String("2600:1f18::/56"), GatewayId: aws.String("local"), Origin: ec2types.RouteOriginCreateRouteTable},
		}},
	}
	got := localBlocks(tables)
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("100.64.0.0/16")}
	if !slices.Equal(got, want) {
		t.Fatalf("localBlocks = %v, want %v", got, want)
	}
	sub := func(cidr string) state.Subnet { return state.Subnet{CIDR: netip.MustParsePrefix(cidr)} }
	for _, tc := range []struct {
		name    string
		blocks  []netip.Prefix
		subnets []state.Subnet
		want    bool
	}{
		{"every subnet inside", got, []state.Subnet{sub("10.0.1.0/24"), sub("100.64.0.0/27")}, true},
		{"no subnets yet", got, nil, true},
		{"a subnet outside (its local route replaced everywhere)", got, []state.Subnet{sub("10.0.1.0/24"), sub("10.1.0.0/24")}, false},
		{"no local route at all", nil, nil, false},
	} {
		if c := covers(tc.blocks, tc.subnets); c != tc.want {
			t.Errorf("%s: covers = %v, want %v", tc.name, c, tc.want)
		}
	}
}

func TestLoadBalancerOfARN(t *testing.T) {
	for _, tc := range []struct{ arn, name, typ string }{
		{"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188", "web-alb", state.TypeApplication},
		{"arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/net/my-nlb/1f3b9c2d", "my-nlb", state.TypeNetwork},
		{"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067", "", ""},
		{"", "", ""},
	} {
		lb := LoadBalancerOfARN(tc.arn)
		if lb.ARN != tc.arn || lb.Name != tc.name || lb.Type != tc.typ {
			t.Errorf("LoadBalancerOfARN(%q) = %+v, want name %q type %q", tc.arn, lb, tc.name, tc.typ)
		}
	}
}

// loadBalancerOf keeps what decides whether a subnet can be added: the IP
// address type and the Elastic IPs of a Network Load Balancer's subnets.
func TestLoadBalancerOf(t *testing.T) {
	lb := loadBalancerOf(elbv2types.LoadBalancer{
		LoadBalancerName: aws.String("nlb"), Type: elbv2types.LoadBalancerTypeEnumNetwork, IpAddressType: elbv2types.IpAddressTypeDualstack,
		AvailabilityZones: []elbv2types.AvailabilityZone{
			{ZoneName: aws.String("us-east-1a"), SubnetId: aws.String("subnet-a")},
			{ZoneName: aws.String("us-east-1b"), SubnetId: aws.String("subnet-b"),
				LoadBalancerAddresses: []elbv2types.LoadBalancerAddress{{IpAddress: aws.String("203.0.113.7"), AllocationId: aws.String("eipalloc-1")}}},
		},
	})
	if lb.IPAddressType != "dualstack" || !lb.ElasticIPs || len(lb.Subnets) != 2 {
		t.Errorf("loadBalancerOf = %+v", lb)
	}
	lb = loadBalancerOf(elbv2types.LoadBalancer{AvailabilityZones: []elbv2types.AvailabilityZone{{ZoneName: aws.String("us-east-1a"),
		LoadBalancerAddresses: []elbv2types.LoadBalancerAddress{{IpAddress: aws.String("203.0.113.8")}}}}})
	if lb.ElasticIPs {
		t.Error("an address AWS assigned counts as an Elastic IP")
	}
}
