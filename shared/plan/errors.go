package plan

import "errors"

// Refusals: the request cannot be met as the world stands, and retrying the
// same event will not change that. Match them with errors.Is.
var (
	ErrNotAllowed     = errors.New("target not allowed")
	ErrInternal       = errors.New("load balancer is not internet-facing")
	ErrOtherVPC       = errors.New("load balancer in another VPC")
	ErrNoLoadBalancer = errors.New("target group has no load balancer")
	ErrUnsupported    = errors.New("unsupported target")
	ErrNotRunning     = errors.New("instance not running")
	ErrNoIGW          = errors.New("VPC has no internet gateway")
	ErrNoSpace        = errors.New("no free address space in VPC")
	ErrSubnetLimit    = errors.New("VPC subnet limit reached")
	ErrRuleLimit      = errors.New("security group rule limit reached")
	ErrNoGroups       = errors.New("no security group to open")
)

// ErrDraining is retryable: the target is still draining from an earlier
// deregistration and cannot be registered again until that ends.
var ErrDraining = errors.New("target is draining")

// Permanent reports whether err is a refusal that no retry can fix.
func Permanent(err error) bool {
	for _, e := range []error{ErrNotAllowed, ErrInternal, ErrOtherVPC, ErrNoLoadBalancer, ErrUnsupported,
		ErrNotRunning, ErrNoIGW, ErrNoSpace, ErrSubnetLimit, ErrRuleLimit, ErrNoGroups} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
