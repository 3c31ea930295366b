package fakeaws

import (
	"fmt"
	"net/netip"
	"slices"

	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Option sets an attribute of a resource a builder adds; each builder reads
// the options that apply to its resource.
type Option func(*options)

type options struct {
	tags                         map[string]string
	igw, internal, noEgress      bool
	cidrs, subnets, groups       []string
	inUse                        int
	state                        string
	targetType, protocol, hcPort string
	preserveClientIP             string
	healthCheck                  string
	forwards                     []Listener
	classicPorts                 []ClassicListener
}

func collect(opts []Option) options {
	o := options{tags: map[string]string{}}
	for _, f := range opts {
		f(&o)
	}
	if len(o.tags) == 0 {
		o.tags = nil
	}
	return o
}

// Tag tags the resource.
func Tag(key, value string) Option { return func(o *options) { o.tags[key] = value } }

// Allowed tags a target group or Classic ELB elbattach:allow=true.
func Allowed() Option { return Tag("elbattach:allow", "true") }

// Managed tags a subnet or route table elbattach:managed=true.
func Managed() Option { return Tag("elbattach:managed", "true") }

// WithIGW attaches an internet gateway to a new VPC.
func WithIGW() Option { return func(o *options) { o.igw = true } }

// SecondaryCIDR adds a CIDR block to a new VPC.
func SecondaryCIDR(cidr string) Option { return func(o *options) { o.cidrs = append(o.cidrs, cidr) } }

// Subnets are a route table's or network ACL's associations, or a load
// balancer's subnets.
func Subnets(ids ...string) Option { return func(o *options) { o.subnets = append(o.subnets, ids...) } }

// Groups are an instance's or load balancer's security groups.
func Groups(ids ...string) Option { return func(o *options) { o.groups = append(o.groups, ids...) } }

// InUse takes n addresses of a subnet (other ENIs).
func InUse(n int) Option { return func(o *options) { o.inUse = n } }

// State is an instance's state (default running).
func State(s string) Option { return func(o *options) { o.state = s } }

// TargetType is a target group's target type (default instance).
func TargetType(t string) Option { return func(o *options) { o.targetType = t } }

// WithPreserveClientIP sets a target group's preserve_client_ip.enabled.
func WithPreserveClientIP(on bool) Option {
	return func(o *options) { o.preserveClientIP = fmt.Sprint(on) }
}

// Protocol is a target group's protocol (default HTTP).
func Protocol(p string) Option { return func(o *options) { o.protocol = p } }

// HealthCheckPort is a target group's health-check port (default traffic-port).
func HealthCheckPort(p string) Option { return func(o *options) { o.hcPort = p } }

// Internal makes a load balancer internal (default internet-facing).
func Internal() Option { return func(o *options) { o.internal = true } }

// NoEgress creates a security group without AWS's default egress rule.
func NoEgress() Option { return func(o *options) { o.noEgress = true } }

// Forward adds an ELBv2 listener on port whose default action forwards to
// target group tg ("": a fixed 404 response).
func Forward(port int32, tg string) Option {
	return func(o *options) { o.forwards = append(o.forwards, Listener{Port: port, TargetGroup: tg}) }
}

// RuleTo adds a rule forwarding to tg to the listener on port (add that
// listener with Forward first).
func RuleTo(port int32, tg string) Option {
	return func(o *options) {
		for i := range o.forwards {
			if o.forwards[i].Port == port {
				o.forwards[i].Rules = append(o.forwards[i].Rules, tg)
				return
			}
		}
		panic(fmt.Sprintf("fakeaws: RuleTo: no listener on port %d", port))
	}
}

// ClassicPort adds a Classic ELB listener: TCP port to instance port.
func ClassicPort(port, instancePort int32) Option {
	return func(o *options) {
		o.classicPorts = append(o.classicPorts, ClassicListener{Protocol: "TCP", Port: port, InstancePort: instancePort})
	}
}

// HealthCheck is a Classic ELB's health check target ("HTTP:8080/health").
func HealthCheck(target string) Option { return func(o *options) { o.healthCheck = target } }

func must(op string, err error) {
	if err != nil {
		panic(fmt.Sprintf("fakeaws: %s: %v", op, err))
	}
}

// AddVPC adds a VPC with its main route table (local routes only) and its
// default network ACL (allowing everything), and returns its ID.
func (w *World) AddVPC(cidr string, opts ...Option) string {
	o := collect(opts)
	var id string
	w.locked(func() {
		v := &VPC{ID: w.id("vpc"), CIDRs: append([]string{cidr}, o.cidrs...)}
		for _, c := range v.CIDRs {
			if p, err := netip.ParsePrefix(c); err != nil || p.Masked() != p || p.Bits() < 16 || p.Bits() > 28 {
				panic("fakeaws: AddVPC: bad CIDR block " + c)
			}
		}
		w.db.VPCs[v.ID] = v
		rt, _ := w.createRouteTable(v.ID, nil)
		rt.Main, v.MainRouteTable = true, rt.ID
		acl := &NACL{ID: w.id("acl"), VPC: v.ID, Default: true, Entries: []NACLEntry{
			{Number: 100, Protocol: "-1", CIDR: "0.0.0.0/0", Allow: true},
			{Number: 100, Egress: true, Protocol: "-1", CIDR: "0.0.0.0/0", Allow: true}}}
		w.db.NACLs[acl.ID], v.DefaultNACL = acl, acl.ID
		if o.igw {
			w.db.IGWs[w.id("igw")] = v.ID
		}
		id = v.ID
	})
	return id
}

// IGW returns the internet gateway attached to vpc, or "".
func (w *World) IGW(vpc string) string {
	var id string
	w.locked(func() {
		for _, g := range sortedKeys(w.db.IGWs) {
			if w.db.IGWs[g] == vpc && id == "" {
				id = g
			}
		}
	})
	return id
}

// MainRouteTable returns the main route table of vpc.
func (w *World) MainRouteTable(vpc string) string {
	var id string
	w.locked(func() { id = w.db.VPCs[vpc].MainRouteTable })
	return id
}

// DefaultNACL returns the default network ACL of vpc.
func (w *World) DefaultNACL(vpc string) string {
	var id string
	w.locked(func() { id = w.db.VPCs[vpc].DefaultNACL })
	return id
}

// AddRouteTable adds a route table to vpc, with a 0.0.0.0/0 route to target
// unless it is "" (an igw-…, nat-… or i-… ID), associated with Subnets.
func (w *World) AddRouteTable(vpc, target string, opts ...Option) string {
	o := collect(opts)
	var id string
	w.locked(func() {
		rt, err := w.createRouteTable(vpc, o.tags)
		must("AddRouteTable", err)
		id = rt.ID
	})
	if target != "" {
		w.AddRoute(id, Route{Dest: "0.0.0.0/0", Target: target})
	}
	w.Associate(id, o.subnets...)
	return id
}

// AddRoute adds a route to a route table (a blackhole one too).
func (w *World) AddRoute(rt string, r Route) {
	w.locked(func() { must("AddRoute", w.addRoute(rt, r)) })
}

// Associate associates subnets with a route table.
func (w *World) Associate(rt string, subnets ...string) {
	w.locked(func() {
		for _, s := range subnets {
			_, err := w.associate(rt, s)
			must("Associate", err)
		}
	})
}

// AddSubnet adds a subnet (as CreateSubnet does, refusals included) and
// returns its ID.
func (w *World) AddSubnet(vpc, az, cidr string, opts ...Option) string {
	o := collect(opts)
	var id string
	w.locked(func() {
		s, err := w.createSubnet(vpc, az, cidr, o.tags)
		must("AddSubnet", err)
		s.InUse, id = o.inUse, s.ID
	})
	return id
}

// AddNACL adds a network ACL to vpc with no entries (AWS then denies all),
// and moves the Subnets to it.
func (w *World) AddNACL(vpc string, opts ...Option) string {
	o := collect(opts)
	var id string
	w.locked(func() {
		acl := &NACL{ID: w.id("acl"), VPC: vpc}
		for _, a := range w.db.NACLs {
			a.Subnets = slices.DeleteFunc(a.Subnets, func(s string) bool { return slices.Contains(o.subnets, s) })
		}
		acl.Subnets = slices.Clone(o.subnets)
		w.db.NACLs[acl.ID], id = acl, acl.ID
	})
	return id
}

// AddNACLEntry adds an entry to a network ACL.
func (w *World) AddNACLEntry(acl string, e NACLEntry) {
	w.locked(func() { must("AddNACLEntry", w.addNACLEntry(acl, e)) })
}

// AddSecurityGroup adds a security group with AWS's default egress rule (all
// traffic to 0.0.0.0/0) unless NoEgress, and returns its ID.
func (w *World) AddSecurityGroup(vpc, name string, opts ...Option) string {
	o := collect(opts)
	var id string
	w.locked(func() {
		g := &SecurityGroup{ID: w.id("sg"), VPC: vpc, Name: name}
		if !o.noEgress {
			g.Egress = []Rule{AllTraffic("0.0.0.0/0")}
		}
		w.db.Groups[g.ID], id = g, g.ID
	})
	return id
}

// AddIngress adds inbound rules to a group (as AuthorizeSecurityGroupIngress).
func (w *World) AddIngress(group string, rules ...Rule) {
	w.locked(func() { must("AddIngress", w.authorize(group, false, rules)) })
}

// AddEgress adds outbound rules to a group (as AuthorizeSecurityGroupEgress).
func (w *World) AddEgress(group string, rules ...Rule) {
	w.locked(func() { must("AddEgress", w.authorize(group, true, rules)) })
}

// AddInstance adds an instance (running unless State) to subnet, with the
// lowest free private address, and returns its ID.
func (w *World) AddInstance(subnet string, opts ...Option) string {
	o := collect(opts)
	var id string
	w.locked(func() {
		s := w.db.Subnets[subnet]
		if s == nil {
			panic("fakeaws: AddInstance: no subnet " + subnet)
		}
		i := &Instance{ID: w.id("i"), State: "running", AZ: s.AZ, Subnet: subnet, VPC: s.VPC, Groups: o.groups, Tags: o.tags}
		if o.state != "" {
			i.State = o.state
		}
		for _, g := range o.groups {
			if w.db.Groups[g] == nil {
				panic("fakeaws: AddInstance: no security group " + g)
			}
		}
		ip := netip.MustParsePrefix(s.CIDR).Addr().Next().Next().Next().Next()
		for slices.ContainsFunc(sortedKeys(w.db.Instances), func(id string) bool { return w.db.Instances[id].PrivateIP == ip.String() }) {
			ip = ip.Next()
		}
		i.PrivateIP = ip.String()
		w.db.Instances[i.ID], id = i, i.ID
	})
	return id
}

// SetInstanceState changes an instance's state.
func (w *World) SetInstanceState(id, state string) {
	w.locked(func() { w.db.Instances[id].State = state })
}

// SetInstanceTag sets (value non-nil) or removes (nil) a tag of an instance.
func (w *World) SetInstanceTag(id, key string, value *string) {
	w.locked(func() {
		i := w.db.Instances[id]
		if value == nil {
			delete(i.Tags, key)
			return
		}
		if i.Tags == nil {
			i.Tags = map[string]string{}
		}
		i.Tags[key] = *value
	})
}

// AddTargetGroup adds a target group to vpc and returns its ARN.
func (w *World) AddTargetGroup(vpc, name string, port int32, opts ...Option) string {
	o := collect(opts)
	var arn string
	w.locked(func() {
		for _, tg := range w.db.TargetGroups {
			if tg.Name == name {
				panic("fakeaws: AddTargetGroup: duplicate name " + name)
			}
		}
		w.ids["tg"]++
		arn = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%016x", Region, Account, name, w.ids["tg"])
		tg := &TargetGroup{ARN: arn, Name: name, Port: port, VPC: vpc, Tags: o.tags,
			Protocol: or(o.protocol, "HTTP"), TargetType: or(o.targetType, "instance"), HealthCheckPort: or(o.hcPort, "traffic-port"),
			PreserveClientIP: o.preserveClientIP}
		w.db.TargetGroups[arn] = tg
	})
	return arn
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// AddLoadBalancer adds an ALB or NLB (typ "application" or "network"),
// internet-facing unless Internal, in Subnets (which set its VPC), with
// Groups and Forward listeners, and returns its ARN.
func (w *World) AddLoadBalancer(name, typ string, opts ...Option) string {
	o := collect(opts)
	var arn string
	w.locked(func() {
		if len(o.subnets) == 0 || w.db.Subnets[o.subnets[0]] == nil {
			panic("fakeaws: AddLoadBalancer: needs Subnets")
		}
		vpc := w.db.Subnets[o.subnets[0]].VPC
		must("AddLoadBalancer", w.checkLBSubnets(typ, vpc, nil, o.subnets))
		w.ids["lb"]++
		kind, proto := "app", "HTTP"
		if typ == string(elbv2types.LoadBalancerTypeEnumNetwork) {
			kind, proto = "net", "TCP"
		}
		arn = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/%s/%s/%016x", Region, Account, kind, name, w.ids["lb"])
		lb := &LoadBalancer{ARN: arn, Name: name, Type: typ, Scheme: "internet-facing", VPC: vpc, Subnets: o.subnets, Groups: o.groups, Tags: o.tags}
		if o.internal {
			lb.Scheme = "internal"
		}
		for i, l := range o.forwards {
			for _, ref := range append([]string{l.TargetGroup}, l.Rules...) {
				tg := w.db.TargetGroups[ref]
				if tg == nil && ref != "" {
					panic("fakeaws: AddLoadBalancer: no target group " + ref)
				}
				if tg != nil && !slices.Contains(tg.LoadBalancers, arn) {
					tg.LoadBalancers = append(tg.LoadBalancers, arn)
				}
			}
			l.ARN, l.Protocol = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:listener/%s/%s/%016x/%016x", Region, Account, kind, name, w.ids["lb"], i+1), proto
			lb.Listeners = append(lb.Listeners, l)
		}
		w.db.LoadBalancers[arn] = lb
	})
	return arn
}

// AddClassicLB adds a Classic ELB, internet-facing unless Internal, in
// Subnets, with Groups, ClassicPort listeners and a HealthCheck (default
// TCP on the first instance port), and returns its name.
func (w *World) AddClassicLB(name string, opts ...Option) string {
	o := collect(opts)
	w.locked(func() {
		if len(o.subnets) == 0 || w.db.Subnets[o.subnets[0]] == nil || len(o.classicPorts) == 0 {
			panic("fakeaws: AddClassicLB: needs Subnets and a ClassicPort")
		}
		vpc := w.db.Subnets[o.subnets[0]].VPC
		must("AddClassicLB", w.checkLBSubnets("classic", vpc, nil, o.subnets))
		lb := &ClassicLB{Name: name, Scheme: "internet-facing", VPC: vpc, Subnets: o.subnets, Groups: o.groups, Health: map[string]InstanceHealth{},
			Listeners: o.classicPorts, Tags: o.tags, HealthCheck: or(o.healthCheck, fmt.Sprintf("TCP:%d", o.classicPorts[0].InstancePort))}
		if o.internal {
			lb.Scheme = "internal"
		}
		w.db.Classic[name] = lb
	})
	return name
}
