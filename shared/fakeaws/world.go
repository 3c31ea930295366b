// Package fakeaws is a hand-written, stateful, in-memory AWS for unit tests:
// EC2, ELBv2 and Classic ELB clients behind elbattach's own interfaces
// (observe.EC2, apply.ELBv2, ...), with the SDK's method signatures, sharing
// one World.
//
// It reproduces the AWS behaviour elbattach relies on, including the refusals
// moto does not make (overlapping subnets, two load balancer subnets in one
// AZ, duplicate rules, rule quotas, registering a stopped instance, ...), and
// answers with real smithy errors, so awserr classifies them as it classifies
// AWS's. Every call is recorded with its input; errors can be injected per
// operation, and hooks run at a given call to change the world under the code
// (a concurrent writer). There is no latency and no goroutine; a World is safe
// for concurrent use.
//
// Operations are named "<service>.<Operation>" with the services "ec2",
// "elbv2" and "elb" (Classic): "ec2.CreateSubnet", "elbv2.SetSubnets".
package fakeaws

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/smithy-go"
)

// Defaults of a new World.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// Call is one recorded API call.
type Call struct {
	Op    string
	Input any // the SDK input pointer as passed
}

// World is one fake AWS account in one region.
type World struct {
	mu   sync.Mutex
	db   db
	ids  map[string]int
	log  []Call
	next map[string][]error
	all  map[string]error
	on   map[string][]func()
	post map[string][]func()
}

// db is the world's resources. Its fields are exported for Dump.
type db struct {
	VPCs          map[string]*VPC
	IGWs          map[string]string // igw -> attached VPC ("" detached)
	RouteTables   map[string]*RouteTable
	Subnets       map[string]*Subnet
	NACLs         map[string]*NACL
	Groups        map[string]*SecurityGroup
	Instances     map[string]*Instance
	TargetGroups  map[string]*TargetGroup
	LoadBalancers map[string]*LoadBalancer
	Classic       map[string]*ClassicLB
}

// New returns an empty World in Region, account Account.
func New() *World {
	return &World{
		db: db{VPCs: map[string]*VPC{}, IGWs: map[string]string{}, RouteTables: map[string]*RouteTable{},
			Subnets: map[string]*Subnet{}, NACLs: map[string]*NACL{}, Groups: map[string]*SecurityGroup{},
			Instances: map[string]*Instance{}, TargetGroups: map[string]*TargetGroup{},
			LoadBalancers: map[string]*LoadBalancer{}, Classic: map[string]*ClassicLB{}},
		ids: map[string]int{}, next: map[string][]error{}, all: map[string]error{},
		on: map[string][]func(){}, post: map[string][]func(){},
	}
}

// EC2 returns an EC2 client on w.
func (w *World) EC2() *EC2 { return &EC2{w: w} }

// ELBv2 returns an Elastic Load Balancing v2 client on w.
func (w *World) ELBv2() *ELBv2 { return &ELBv2{w: w} }

// ClassicELB returns a Classic Elastic Load Balancing client on w.
func (w *World) ClassicELB() *ClassicELB { return &ClassicELB{w: w} }

// Calls returns the operations called so far, in order.
func (w *World) Calls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, len(w.log))
	for i, c := range w.log {
		out[i] = c.Op
	}
	return out
}

// Count returns how many times op was called.
func (w *World) Count(op string) int {
	n := 0
	for _, c := range w.Calls() {
		if c == op {
			n++
		}
	}
	return n
}

// Inputs returns the inputs op was called with, in order.
func (w *World) Inputs(op string) []any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []any
	for _, c := range w.log {
		if c.Op == op {
			out = append(out, c.Input)
		}
	}
	return out
}

// ResetCalls forgets the calls recorded so far.
func (w *World) ResetCalls() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = nil
}

// FailNext makes the next call of op return err instead of running; calls
// queue up, one error each.
func (w *World) FailNext(op string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next[op] = append(w.next[op], err)
}

// FailAlways makes every call of op return err (nil stops it). FailNext
// errors come first.
func (w *World) FailAlways(op string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		delete(w.all, op)
		return
	}
	w.all[op] = err
}

// OnCall runs fn at every call of op ("*": of every operation), before the
// call reads or changes anything (and before an injected error). fn may
// change w, or sleep to give the call latency.
func (w *World) OnCall(op string, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.on[op] = append(w.on[op], fn)
}

// AfterCall runs fn after every successful call of op ("*": of every
// operation), before the call returns to its caller. fn may change w.
func (w *World) AfterCall(op string, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.post[op] = append(w.post[op], fn)
}

// Mutating reports whether op changes anything (every operation but Describe*).
func Mutating(op string) bool {
	_, name, _ := strings.Cut(op, ".")
	return !strings.HasPrefix(name, "Describe")
}

// Dump returns the whole state as indented JSON, for before/after comparisons.
func (w *World) Dump() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := json.MarshalIndent(w.db, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Err returns an AWS API error with code, as the SDK returns it (match it
// with awserr.Is).
func Err(code, format string, args ...any) error {
	return &smithy.GenericAPIError{Code: code, Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

var serviceIDs = map[string]string{"ec2": "EC2", "elbv2": "Elastic Load Balancing v2", "elb": "Elastic Load Balancing"}

// do runs one API call: it records it, runs the OnCall hooks, returns an
// injected error if any, else runs f under the lock and then the AfterCall
// hooks. Errors of f are wrapped in a smithy.OperationError as the SDK does.
func do[I any, O any](ctx context.Context, w *World, op string, in *I, f func(*I) (*O, error)) (*O, error) {
	w.mu.Lock()
	w.log = append(w.log, Call{Op: op, Input: in})
	hooks := slices.Concat(w.on[op], w.on["*"])
	w.mu.Unlock()
	for _, h := range hooks {
		h()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	var err error
	if q := w.next[op]; len(q) > 0 {
		err, w.next[op] = q[0], q[1:]
	} else {
		err = w.all[op]
	}
	if err != nil {
		w.mu.Unlock()
		return nil, err
	}
	if in == nil {
		in = new(I)
	}
	out, err := f(in)
	hooks = slices.Concat(w.post[op], w.post["*"])
	w.mu.Unlock()
	if err != nil {
		svc, name, _ := strings.Cut(op, ".")
		return nil, &smithy.OperationError{ServiceID: serviceIDs[svc], OperationName: name, Err: err}
	}
	for _, h := range hooks {
		h()
	}
	return out, nil
}

// id returns a new ID such as "subnet-00000000000000003". IDs of one kind
// sort in creation order.
func (w *World) id(prefix string) string {
	w.ids[prefix]++
	return fmt.Sprintf("%s-%017x", prefix, w.ids[prefix])
}

// locked runs f under the lock (the builders and inspectors use it).
func (w *World) locked(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
}

// clone deep-copies v (the inspectors return copies).
func clone[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// page cuts items to one page: start from token (an index), at most max
// (0: all). It returns the next token, "" at the end.
func page[T any](items []T, token string, max int) ([]T, string, error) {
	start := 0
	if token != "" {
		if _, err := fmt.Sscanf(token, "page-%d", &start); err != nil || start < 0 || start > len(items) {
			return nil, "", Err("InvalidNextToken", "The token '%s' is invalid.", token)
		}
	}
	if max <= 0 || start+max >= len(items) {
		return items[start:], "", nil
	}
	return items[start : start+max], fmt.Sprintf("page-%d", start+max), nil
}
