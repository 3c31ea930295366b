// Package observe reads, and only reads, the AWS state one decision needs, and
// returns it as plain data (package state). It declares the few Describe calls
// it makes as interfaces with the SDK's own signatures, so *ec2.Client and
// *elasticloadbalancingv2.Client satisfy them as they are.
package observe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/state"
)

// EC2 is the part of the EC2 API observe reads.
type EC2 interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	DescribeVpcs(context.Context, *ec2.DescribeVpcsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeRouteTables(context.Context, *ec2.DescribeRouteTablesInput, ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	DescribeInternetGateways(context.Context, *ec2.DescribeInternetGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error)
	DescribeNetworkAcls(context.Context, *ec2.DescribeNetworkAclsInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkAclsOutput, error)
}

// ELBv2 is the part of the Elastic Load Balancing v2 API observe reads.
type ELBv2 interface {
	DescribeTargetGroups(context.Context, *elasticloadbalancingv2.DescribeTargetGroupsInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetGroupsOutput, error)
	DescribeLoadBalancers(context.Context, *elasticloadbalancingv2.DescribeLoadBalancersInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeLoadBalancersOutput, error)
	DescribeTags(context.Context, *elasticloadbalancingv2.DescribeTagsInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTagsOutput, error)
	DescribeTargetHealth(context.Context, *elasticloadbalancingv2.DescribeTargetHealthInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetHealthOutput, error)
	DescribeListeners(context.Context, *elasticloadbalancingv2.DescribeListenersInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeListenersOutput, error)
	DescribeRules(context.Context, *elasticloadbalancingv2.DescribeRulesInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeRulesOutput, error)
	DescribeTargetGroupAttributes(context.Context, *elasticloadbalancingv2.DescribeTargetGroupAttributesInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetGroupAttributesOutput, error)
}

var (
	_ EC2   = (*ec2.Client)(nil)
	_ ELBv2 = (*elasticloadbalancingv2.Client)(nil)
)

// Errors for things that do not exist; match them with errors.Is.
var (
	ErrInstanceNotFound = errors.New("instance not found")
	ErrTargetNotFound   = errors.New("target not found")
)

// launchRetry bounds the retries of DescribeInstances on
// InvalidInstanceID.NotFound: for a few seconds after launch EC2 may not know
// an instance that EventBridge already announced.
var launchRetry = struct {
	attempts int
	backoff  time.Duration
}{attempts: 5, backoff: 2 * time.Second}

// Observer reads AWS state.
type Observer struct {
	EC2 EC2
	ELB ELBv2
	CLB ClassicELB
	// InstanceNotFoundAttempts overrides how often DescribeInstances is tried
	// while the instance is unknown (tests make it 1).
	InstanceNotFoundAttempts int
	// Listed reports whether the configuration allows a target by its name
	// or ARN (ALLOWED_TARGETS): the opt-in tag of such a target is not read.
	// nil reads every target's tags.
	Listed func(name, arn string) bool
	// TTL enables the target cache of a warm container (see TargetTTL); 0
	// reads everything every time.
	TTL   time.Duration
	cache targetCache
}

// listed reports whether the configuration allows the target by name or ARN.
func (o *Observer) listed(name, arn string) bool { return o.Listed != nil && o.Listed(name, arn) }

// Forget drops what the cache holds about ref.
func (o *Observer) Forget(ref state.Ref) { o.cache.forget(ref.Raw) }

// cachedTargetOf reads an ELBv2 target through the cache; cached reports a
// cache hit.
func (o *Observer) cachedTargetOf(ctx context.Context, ref state.Ref) (t state.Target, lb state.LoadBalancer, cached bool, err error) {
	if o.TTL > 0 {
		if t, lb, ok := o.cache.get(ref.Raw, o.TTL); ok {
			return t, lb, true, nil
		}
	}
	t, lb, err = o.Target(ctx, ref)
	if err == nil && o.TTL > 0 && lb.ARN != "" {
		o.cache.put(ref.Raw, t, lb)
	}
	return t, lb, false, err
}

// ErrCacheStale means the load balancer moved under what a warm container
// had cached (its security groups, scheme or VPC): observe again, afresh.
var ErrCacheStale = errors.New("cached load balancer out of date")

// Observe reads everything needed to attach instance in to ref: the target
// and its load balancer, the registrations, the security groups of both ends,
// and the VPC's network when a decision needs it (the load balancer lacks the
// instance's AZ, an NLB without security groups, a Classic ELB). With full it
// also reads the network ACLs and the listener ports, for the checks that run
// when something is about to change and for diagnose, and reads the target
// and its listeners afresh (diagnose is asked to tell what is there now).
func (o *Observer) Observe(ctx context.Context, in state.Instance, ref state.Ref, full bool) (state.State, error) {
	s := state.State{Instance: in, Full: full}
	var err error
	switch {
	case ref.Classic:
		s.Target, s.LoadBalancer, err = o.Classic(ctx, ref)
	case full:
		s.Target, s.LoadBalancer, err = o.Target(ctx, ref) // diagnose reads what is there now
	default:
		s.Target, s.LoadBalancer, s.Cached, err = o.cachedTargetOf(ctx, ref)
	}
	if err != nil {
		return s, err
	}
	var early sync.WaitGroup
	var preserve string
	var preserveErr error
	if health := s.Target.ARN != "" && (full || s.LoadBalancer.SubnetIn(in.AZ) != ""); health {
		if arn := s.Target.ARN; !full && s.Target.TargetType == "ip" && len(s.LoadBalancer.SecurityGroups) == 0 && needsPreserveClientIP(s) {
			// Behind an NLB without security groups, a healthy ip target
			// proves the path only when the NLB shows it its own nodes'
			// addresses, not the clients': read that with the health.
			early.Go(func() { preserve, preserveErr = o.PreserveClientIP(ctx, arn) })
		}
		// In an AZ the load balancer lacks, the target cannot be in use, and
		// the plan adds the AZ and registers anyway (RegisterTargets is
		// idempotent): its health is not worth a call there.
		s.Target.Registrations, err = o.Registrations(ctx, s.Target.ARN, s.TargetID(), s.TrafficPort())
		early.Wait()
		if err = errors.Join(err, preserveErr); err != nil {
			return s, err
		}
		if preserve != "" {
			s.Target.PreserveClientIP = preserve
		}
	}
	s.PathProven = !full && pathProven(s)
	// The rest is independent reads, made at once: the security groups, the
	// network when a decision needs it, the listeners for the full state.
	lb, t := s.LoadBalancer, s.Target // each goroutine writes only its own variables
	var wg sync.WaitGroup
	var groupsErr, networkErr, listenersErr, attrsErr error
	preserve = ""
	readPreserve := needsPreserveClientIP(s) && (full || (!s.PathProven && len(lb.SecurityGroups) == 0))
	if !s.PathProven {
		wg.Go(func() { s.InstanceGroups, s.LBGroups, groupsErr = o.groups(ctx, in.SecurityGroups, lb.SecurityGroups) })
	}
	if readPreserve {
		// An NLB shows the instance the clients' addresses or its own, as the
		// target group says: that decides the peers of the rules when it has
		// no security groups, and of the network ACL checks.
		wg.Go(func() { preserve, attrsErr = o.PreserveClientIP(ctx, t.ARN) })
	}
	if full || lb.IsClassic() || len(lb.SecurityGroups) == 0 || (lb.SubnetIn(in.AZ) == "" && lb.VPC == in.VPC) {
		wg.Go(func() { s.Network, networkErr = o.Network(ctx, in.VPC, full) })
	}
	var ports []int32
	var unrouted bool
	if full {
		wg.Go(func() { ports, unrouted, listenersErr = o.listeners(ctx, lb, t, false) })
	}
	wg.Wait()
	if err := errors.Join(groupsErr, networkErr, listenersErr, attrsErr); err != nil {
		return s, err
	}
	if full {
		s.Target.ListenerPorts, s.Target.Unrouted, s.Target.ListenersRead = ports, unrouted, true
	}
	if preserve != "" {
		s.Target.PreserveClientIP = preserve
	}
	if s.Network != nil {
		fillAZs(&s.LoadBalancer, s.Network)
	}
	return s, nil
}

// pathProven reports whether the target is registered and healthy in an AZ
// the load balancer covers, with health checks on the traffic port: then the
// load balancer demonstrably reaches the instance on that port, and the
// security groups need not be read (a steady-state replay stays cheap).
func pathProven(s state.State) bool {
	if s.LoadBalancer.IsClassic() || s.LoadBalancer.SubnetIn(s.Instance.AZ) == "" {
		return false
	}
	lb := s.LoadBalancer
	if lb.Type == state.TypeNetwork && len(lb.SecurityGroups) == 0 && (s.Target.TargetType != "ip" || s.PreservesClientIP()) {
		// Health checks come from the NLB's nodes, but traffic comes from
		// the clients' own addresses when it preserves them (instance
		// targets; ip targets read to have it on): healthy proves nothing
		// about the clients' rule.
		return false
	}
	if !slices.Equal(s.TrafficProtocols(), []string{"tcp"}) {
		return false // health checks are TCP: they prove nothing about UDP
	}
	hc := s.Target.HealthCheckPort
	if hc != "" && hc != "traffic-port" && hc != fmt.Sprint(s.TrafficPort()) {
		return false
	}
	for _, r := range s.Target.Registrations {
		if r.ID == s.TargetID() && r.Port == s.TrafficPort() && r.State == "healthy" {
			return true
		}
	}
	return false
}

// groups reads the instance's and the load balancer's security groups in one call.
func (o *Observer) groups(ctx context.Context, instance, lb []string) (in, out []state.SecurityGroup, err error) {
	all, err := o.SecurityGroups(ctx, append(slices.Clone(instance), lb...))
	if err != nil {
		return nil, nil, err
	}
	for _, g := range all {
		if slices.Contains(instance, g.ID) {
			in = append(in, g)
		}
		if slices.Contains(lb, g.ID) {
			out = append(out, g)
		}
	}
	return in, out, nil
}

// Instance reads one instance.
func (o *Observer) Instance(ctx context.Context, id string) (state.Instance, error) {
	attempts := o.InstanceNotFoundAttempts
	if attempts == 0 {
		attempts = launchRetry.attempts
	}
	out, err := o.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, func(opt *ec2.Options) {
		opt.Retryer = retry.AddWithMaxBackoffDelay(retry.AddWithMaxAttempts(
			retry.AddWithErrorCodes(opt.Retryer, awserr.InstanceNotFound), attempts), launchRetry.backoff)
	})
	if awserr.Is(err, awserr.InstanceNotFound, awserr.InstanceIDMalformed) {
		return state.Instance{}, fmt.Errorf("%w: %s (%s)", ErrInstanceNotFound, id, awserr.Code(err))
	}
	if err != nil {
		return state.Instance{}, fmt.Errorf("describing instance %s, %w", id, err)
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			return instanceOf(i), nil
		}
	}
	return state.Instance{}, fmt.Errorf("%w: %s", ErrInstanceNotFound, id)
}

// Complete adds to s what the full checks need and a minimal Observe left
// out: the network with its ACLs, and the listener ports. A load balancer
// that came from the cache is read again: nothing is changed on the word of
// a cached one. When its security groups, scheme or VPC moved, Complete
// forgets the target and returns ErrCacheStale.
//
// It reads no more than the checks use, and the plan says what else it
// wants (state.Wants, read by Fill):
//   - The network: when Observe did not read it for a decision, the checks
//     need its ACLs and route tables (the NAT-route advice), not its subnets
//     and CIDR blocks (ChecksOnly): the subnets' CIDRs only when an ACL of the
//     path does not let everything through (NoSubnets, Wants.Subnets). A warm
//     container's, when it knows the instance's subnet and the load
//     balancer's there, serves them (NetworkCached); its ACLs alone serve a
//     run that read the rest for a decision (NACLsCached). A rule missing
//     from cached ACLs is read again before it is reported or fixed.
//   - The listeners, unless a warm container has them: their ports are what
//     the load balancer's security groups and the public subnet's ACL must
//     let in from clients (warnings, FIX_NACLS), and whether one forwards to
//     the group decides whether a run that adds the AZ reads the target's
//     health afterwards.
func (o *Observer) Complete(ctx context.Context, s *state.State) error {
	if s.Full {
		return nil
	}
	lb, vpc, network, tgARN, t := s.LoadBalancer, s.Instance.VPC, s.Network, s.Target.ARN, s.Target
	var wg sync.WaitGroup
	var groupsErr, networkErr, listenersErr, lbErr, attrsErr error
	var fresh state.LoadBalancer
	var preserve string
	var ports []int32
	var unrouted, listened bool
	cachedNet := o.cachedNetwork(vpc, s.Instance.Subnet, lb.SubnetIn(s.Instance.AZ))
	naclsCached := network != nil && cachedNet != nil && knowsAll(cachedNet, network.Subnets)
	if needsPreserveClientIP(*s) { // before any goroutine writes to s
		wg.Go(func() { preserve, attrsErr = o.PreserveClientIP(ctx, tgARN) }) // for the network ACL checks
	}
	if s.Cached && lb.ARN != "" && !lb.IsClassic() {
		wg.Go(func() { fresh, lbErr = o.LoadBalancer(ctx, lb.ARN) })
	}
	if s.PathProven {
		wg.Go(func() {
			s.InstanceGroups, s.LBGroups, groupsErr = o.groups(ctx, s.Instance.SecurityGroups, lb.SecurityGroups)
		})
	}
	switch {
	case naclsCached: // read for a decision; the checks take the cached ACLs
		network.NACLs = cachedNet.NACLs
	case network != nil: // read for a decision; the checks add its ACLs
		wg.Go(func() { network.NACLs, networkErr = o.NACLs(ctx, vpc) })
	case cachedNet != nil:
		network = cachedNet
	default:
		wg.Go(func() { network, networkErr = o.checksNetwork(ctx, vpc) })
	}
	if !t.ListenersRead {
		listened = true
		wg.Go(func() { ports, unrouted, listenersErr = o.listeners(ctx, lb, t, true) })
	}
	wg.Wait()
	if errors.Is(lbErr, ErrTargetNotFound) {
		// The cached load balancer is gone (replaced, say): the target
		// group may be behind another one now.
		o.Forget(s.Target.Ref)
		return fmt.Errorf("%w: %s", ErrCacheStale, lbErr.Error()) // not lbErr itself: no refusal for good
	}
	if err := errors.Join(groupsErr, networkErr, listenersErr, lbErr, attrsErr); err != nil {
		return err
	}
	if listened {
		s.Target.ListenerPorts, s.Target.Unrouted, s.Target.ListenersRead = ports, unrouted, true
	}
	wholeCached := s.Network == nil && cachedNet != nil
	s.NetworkCached, s.NACLsCached = wholeCached, wholeCached || naclsCached
	if preserve != "" {
		s.Target.PreserveClientIP = preserve
	}
	if fresh.ARN != "" {
		if !sameSet(fresh.SecurityGroups, lb.SecurityGroups) || fresh.Scheme != lb.Scheme || fresh.VPC != lb.VPC {
			o.Forget(s.Target.Ref)
			return fmt.Errorf("%w: %s (security groups %v, now %v)", ErrCacheStale, lb.Name, lb.SecurityGroups, fresh.SecurityGroups)
		}
		o.cache.refresh(s.Target.Ref.Raw, fresh)
		s.LoadBalancer, s.Cached = fresh, false
		if s.Network != nil {
			fillAZs(&s.LoadBalancer, s.Network)
		}
	}
	if s.Network == nil {
		s.Network = network
		fillAZs(&s.LoadBalancer, s.Network)
	}
	s.PathProven, s.Full = false, true
	return nil
}

// needsPreserveClientIP reports whether s is an NLB's target group whose
// client IP preservation is unread and not fixed by its protocol (always on
// for UDP).
func needsPreserveClientIP(s state.State) bool {
	return s.LoadBalancer.Type == state.TypeNetwork && s.Target.ARN != "" && s.Target.PreserveClientIP == "" &&
		!slices.Contains(s.TrafficProtocols(), "udp")
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// RefreshListeners reads s's listener facts afresh, whether s has them or a
// warm container's cache does (verify names the cause of a NotInUse on
// what the listeners say now), and caches them.
func (o *Observer) RefreshListeners(ctx context.Context, s *state.State) error {
	ports, unrouted, err := o.listeners(ctx, s.LoadBalancer, s.Target, false)
	if err != nil {
		return err
	}
	s.Target.ListenerPorts, s.Target.Unrouted, s.Target.ListenersRead = ports, unrouted, true
	return nil
}

// Fill reads what a plan built on s wants and s lacks (see Complete): the
// listener ports, the whole network afresh, the ACLs afresh, the subnets.
func (o *Observer) Fill(ctx context.Context, s *state.State, w state.Wants) error {
	var wg sync.WaitGroup
	var listenersErr, networkErr, aclsErr, subnetsErr error
	var ports []int32
	var unrouted bool
	var network *state.Network
	var acls []state.NACL
	var subnets []state.Subnet
	readListeners := w.ListenerPorts && !s.Target.ListenersRead
	readNetwork := w.FreshNetwork && (s.NetworkCached || s.Network == nil || s.Network.ChecksOnly)
	readACLs := w.FreshACLs && s.NACLsCached && !readNetwork
	readSubnets := w.Subnets && s.Network != nil && s.Network.NoSubnets && !readNetwork
	lb, t, vpc := s.LoadBalancer, s.Target, s.Instance.VPC
	if readListeners {
		wg.Go(func() { ports, unrouted, listenersErr = o.listeners(ctx, lb, t, true) })
	}
	if readNetwork {
		wg.Go(func() { network, networkErr = o.freshNetwork(ctx, vpc) })
	}
	if readACLs {
		wg.Go(func() { acls, aclsErr = o.NACLs(ctx, vpc) })
	}
	if readSubnets {
		wg.Go(func() { subnets, subnetsErr = o.vpcSubnets(ctx, vpc) })
	}
	wg.Wait()
	if err := errors.Join(listenersErr, networkErr, aclsErr, subnetsErr); err != nil {
		return err
	}
	if readListeners {
		s.Target.ListenerPorts, s.Target.Unrouted, s.Target.ListenersRead = ports, unrouted, true
	}
	if readNetwork {
		s.Network, s.NetworkCached, s.NACLsCached = network, false, false
		fillAZs(&s.LoadBalancer, s.Network)
	}
	if readACLs {
		s.Network.NACLs, s.NACLsCached = acls, false
		o.cache.putNACLs(vpc, acls)
	}
	if readSubnets {
		s.Network.Subnets, s.Network.NoSubnets = subnets, false
		fillAZs(&s.LoadBalancer, s.Network)
		o.cache.putSubnets(vpc, subnets)
	}
	return nil
}

// knowsAll reports whether n knows each of subnets (none was created since
// it was read).
func knowsAll(n *state.Network, subnets []state.Subnet) bool {
	for _, sub := range subnets {
		if !n.Knows(sub.ID) {
			return false
		}
	}
	return true
}

// freshNetwork reads the VPC's network with its ACLs, and caches it in a
// warm container.
func (o *Observer) freshNetwork(ctx context.Context, vpc string) (*state.Network, error) {
	n, err := o.Network(ctx, vpc, true)
	if err == nil && o.TTL > 0 {
		o.cache.putNetwork(vpc, n)
	}
	return n, err
}

// cachedNetwork returns a copy of the VPC's cached network when it knows
// each of subnets ("" skipped), else nil.
func (o *Observer) cachedNetwork(vpc string, subnets ...string) *state.Network {
	if o.TTL <= 0 {
		return nil
	}
	n := o.cache.network(vpc, o.TTL)
	if n == nil {
		return nil
	}
	for _, id := range subnets {
		if id != "" && !n.Knows(id) {
			return nil
		}
	}
	return n
}

// ForgetNetwork drops the cached network of vpc.
func (o *Observer) ForgetNetwork(vpc string) { o.cache.forgetNetwork(vpc) }

// cachedListeners returns a warm container's listener facts of an ELBv2
// target; ok is false when it holds none.
func (o *Observer) cachedListeners(lb state.LoadBalancer, t state.Target) (ports []int32, unrouted, ok bool) {
	if o.TTL <= 0 || lb.ARN == "" {
		return nil, false, false
	}
	f, ok := o.cache.listeners(t.Ref.Raw, lb.ARN, o.TTL)
	return slices.Clone(f.ports), f.unrouted, ok
}

// listeners returns an ELBv2 target's listener ports and whether no listener
// forwards to it, through the target cache when cached, else read afresh
// into it (a Classic ELB's ports come with its description: t's are
// returned as they are).
func (o *Observer) listeners(ctx context.Context, lb state.LoadBalancer, t state.Target, cached bool) ([]int32, bool, error) {
	if lb.IsClassic() || lb.ARN == "" {
		return t.ListenerPorts, t.Unrouted, nil
	}
	if cached {
		if ports, unrouted, ok := o.cachedListeners(lb, t); ok {
			return ports, unrouted, nil
		}
	}
	ports, forwards, err := o.Listeners(ctx, lb.ARN, t.ARN)
	if err == nil && o.TTL > 0 {
		o.cache.putListeners(t.Ref.Raw, lb.ARN, listenerFacts{ports: slices.Clone(ports), unrouted: !forwards})
	}
	return ports, !forwards, err
}
