package state

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// ErrBadTargetTag is returned for a tag value that names no valid target.
var ErrBadTargetTag = errors.New("bad target tag")

// Ref is one target named by the instance's tag. The tag value is a comma
// separated list of:
//
//	name-or-arn        a target group, registered on its own port
//	name-or-arn@8080   a target group, registered on port 8080
//	classic/name       a Classic Load Balancer
type Ref struct {
	// Raw is the element as written in the tag.
	Raw string `json:"raw"`
	// Classic is true for classic/<name>.
	Classic bool `json:"classic,omitempty"`
	// Name or ARN (exactly one is set).
	Name string `json:"name,omitempty"`
	ARN  string `json:"arn,omitempty"`
	// Port overrides the target group's port (0: none).
	Port int32 `json:"port,omitempty"`
	// Region and Account come from an ARN.
	Region  string `json:"region,omitempty"`
	Account string `json:"account,omitempty"`
}

// String returns the ref as written.
func (r Ref) String() string { return r.Raw }

const maxRefs = 10

// BadRef is an element of the tag value that names no valid target.
type BadRef struct {
	Raw string // the element as written
	Err error  // wraps ErrBadTargetTag, says why
}

// ParseRefs parses an instance's target tag value. Each element stands on
// its own: the valid ones come back in refs, the others in bad, so that one
// mistyped element does not stop the targets named beside it. err
// (ErrBadTargetTag) is for the value as a whole: empty, naming nothing, or
// naming more than 10 targets; refs and bad are nil with it.
func ParseRefs(value string) (refs []Ref, bad []BadRef, err error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, nil, fmt.Errorf("%w: the tag is empty", ErrBadTargetTag)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" || seen[part] {
			continue
		}
		seen[part] = true
		r, err := parseRef(part)
		if err != nil {
			bad = append(bad, BadRef{Raw: part, Err: err})
			continue
		}
		refs = append(refs, r)
	}
	if len(refs)+len(bad) == 0 {
		return nil, nil, fmt.Errorf("%w: %q names no target", ErrBadTargetTag, value)
	}
	if n := len(refs) + len(bad); n > maxRefs {
		return nil, nil, fmt.Errorf("%w: %d targets, at most %d", ErrBadTargetTag, n, maxRefs)
	}
	return refs, bad, nil
}

func parseRef(s string) (Ref, error) {
	r := Ref{Raw: s}
	if name, ok := strings.CutPrefix(s, "classic/"); ok {
		if !validName(name, 32) {
			return r, fmt.Errorf("%w: %q: a Classic Load Balancer name has 1-32 letters, digits and hyphens", ErrBadTargetTag, s)
		}
		r.Classic, r.Name = true, name
		return r, nil
	}
	if strings.HasPrefix(s, "arn:") {
		return parseARNRef(r, s)
	}
	name := s
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		port, err := parsePort(s[i+1:])
		if err != nil {
			return r, fmt.Errorf("%w: %q: %v", ErrBadTargetTag, s, err)
		}
		name, r.Port = s[:i], port
	}
	if !validName(name, 32) {
		return r, fmt.Errorf("%w: %q: a target group name has 1-32 letters, digits and hyphens (or use its ARN)", ErrBadTargetTag, s)
	}
	r.Name = name
	return r, nil
}

func parseARNRef(r Ref, s string) (Ref, error) {
	full := s
	if i := strings.LastIndexByte(s, '@'); i > strings.LastIndexByte(s, '/') {
		port, err := parsePort(s[i+1:])
		if err != nil {
			return r, fmt.Errorf("%w: %q: %v", ErrBadTargetTag, full, err)
		}
		s, r.Port = s[:i], port
	}
	a, err := arn.Parse(s)
	parts := strings.Split(a.Resource, "/")
	if err != nil || a.Service != "elasticloadbalancing" || a.Region == "" || a.AccountID == "" ||
		len(parts) != 3 || parts[0] != "targetgroup" || !validName(parts[1], 32) || parts[2] == "" {
		return r, fmt.Errorf("%w: %q is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)", ErrBadTargetTag, full)
	}
	r.ARN, r.Region, r.Account = s, a.Region, a.AccountID
	return r, nil
}

func parsePort(s string) (int32, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not 1-65535", s)
	}
	return int32(n), nil
}

func validName(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
