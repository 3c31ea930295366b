package plan

import (
	"net/netip"

	"github.com/elbattach/elbattach/shared/state"
)

// FreeBlock returns the lowest block of the given prefix length that is
// aligned, lies inside one of the VPC's CIDR blocks (tried in order) and
// overlaps no existing subnet. The choice is deterministic, so two runs racing
// to create a subnet pick the same block and AWS lets only one of them win
// (InvalidSubnet.Conflict for the other, which then adopts the winner's).
func FreeBlock(vpcCIDRs []netip.Prefix, subnets []state.Subnet, bits int) (netip.Prefix, bool) {
	for _, vpc := range vpcCIDRs {
		if !vpc.Addr().Is4() || vpc.Bits() > bits {
			continue
		}
		start := vpc.Masked().Addr().As4()
		base := uint32(start[0])<<24 | uint32(start[1])<<16 | uint32(start[2])<<8 | uint32(start[3])
		step := uint32(1) << (32 - bits)
		count := uint32(1) << (bits - vpc.Bits())
		for i := uint32(0); i < count; i++ {
			a := base + i*step
			cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits)
			if !overlapsAny(cand, subnets) {
				return cand, true
			}
		}
	}
	return netip.Prefix{}, false
}

func overlapsAny(p netip.Prefix, subnets []state.Subnet) bool {
	for _, s := range subnets {
		if s.CIDR.IsValid() && s.CIDR.Overlaps(p) {
			return true
		}
	}
	return false
}
