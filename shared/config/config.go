// Package config reads elbattach's settings from the environment into a
// validated Config. Every bad value yields an error naming its variable.
package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults.
const (
	DefaultTagKey       = "elbattach:target"
	DefaultSubnetPrefix = 27
	// AllowTagKey is the tag a target group (or Classic ELB) carries, with the
	// value "true", to opt in to elbattach.
	AllowTagKey = "elbattach:allow"
	// ManagedTagKey marks the resources elbattach created.
	ManagedTagKey = "elbattach:managed"
)

// Config is elbattach's validated configuration.
type Config struct {
	// TagKey is the instance tag that names the targets (TAG_KEY).
	TagKey string
	// AllowedTargets lists target group names or ARNs allowed without the
	// elbattach:allow tag (ALLOWED_TARGETS, comma separated).
	AllowedTargets []string
	// SubnetPrefix is the prefix length of the public subnets elbattach
	// creates (PUBLIC_SUBNET_PREFIX, 16..27).
	SubnetPrefix int
	// NLBClientCIDRs are the client ranges opened for NLBs without security
	// groups (NLB_CLIENT_CIDRS).
	NLBClientCIDRs []netip.Prefix
	// DryRun plans without changing anything (DRY_RUN).
	DryRun bool
	// FixNACLs adds missing network ACL entries instead of warning (FIX_NACLS).
	FixNACLs bool
	// LogLevel is the slog level (LOG_LEVEL).
	LogLevel slog.Level
	// WaitHealthy is how long to wait for a registered target to turn
	// healthy (WAIT_HEALTHY_SECONDS, 0: read its health once).
	WaitHealthy time.Duration
	// LifecycleOnFailure completes a launch lifecycle action whose attach
	// failed for good: CONTINUE or ABANDON (LIFECYCLE_ON_FAILURE).
	LifecycleOnFailure string
	// Heartbeat is how often a long drain records a lifecycle heartbeat
	// (LIFECYCLE_HEARTBEAT_SECONDS).
	Heartbeat time.Duration
	// ReconcileMax bounds the instances one reconcile run attaches
	// (RECONCILE_MAX).
	ReconcileMax int
}

// Default returns the configuration with every variable unset.
func Default() Config {
	return Config{
		TagKey:         DefaultTagKey,
		SubnetPrefix:   DefaultSubnetPrefix,
		NLBClientCIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
		LogLevel:       slog.LevelInfo,
		// CONTINUE: an instance whose attach failed for good lives on, and
		// the report says why; ABANDON lets the group replace it.
		LifecycleOnFailure: "CONTINUE",
		// A lifecycle hook's default heartbeat timeout is 3600 s, the
		// smallest AWS allows 30 s; 30 s keeps any hook alive.
		Heartbeat:    30 * time.Second,
		ReconcileMax: 100,
	}
}

// FromEnv builds a Config from lookup (os.LookupEnv in production).
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	get := func(k string) (string, bool) {
		v, ok := lookup(k)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	if v, ok := get("TAG_KEY"); ok {
		// EC2 refuses keys over 128 characters and reserves aws: for itself:
		// no instance could carry such a tag, and every event would be skipped.
		if utf8.RuneCountInString(v) > 128 || strings.HasPrefix(strings.ToLower(v), "aws:") {
			return c, fmt.Errorf("TAG_KEY=%q: want an EC2 tag key: 1 to 128 characters, not starting with aws:", v)
		}
		c.TagKey = v
	}
	if v, ok := get("ALLOWED_TARGETS"); ok {
		c.AllowedTargets = splitList(v)
	}
	if v, ok := get("PUBLIC_SUBNET_PREFIX"); ok {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "/"))
		if err != nil || n < 16 || n > 27 {
			return c, fmt.Errorf("PUBLIC_SUBNET_PREFIX=%q: want a prefix length from 16 to 27 (AWS allows /16../28 for subnets and a load balancer needs /27 or larger)", v)
		}
		c.SubnetPrefix = n
	}
	if v, ok := get("NLB_CLIENT_CIDRS"); ok {
		c.NLBClientCIDRs = nil
		for _, s := range splitList(v) {
			p, err := netip.ParsePrefix(s)
			if err != nil || !p.Addr().Is4() {
				return c, fmt.Errorf("NLB_CLIENT_CIDRS: %q is not an IPv4 CIDR block", s)
			}
			c.NLBClientCIDRs = append(c.NLBClientCIDRs, p.Masked())
		}
		if len(c.NLBClientCIDRs) == 0 {
			return c, fmt.Errorf("NLB_CLIENT_CIDRS=%q names no CIDR block", v)
		}
	}
	var err error
	if c.DryRun, err = boolVar(get, "DRY_RUN"); err != nil {
		return c, err
	}
	if c.FixNACLs, err = boolVar(get, "FIX_NACLS"); err != nil {
		return c, err
	}
	if v, ok := get("WAIT_HEALTHY_SECONDS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 840 {
			return c, fmt.Errorf("WAIT_HEALTHY_SECONDS=%q: want 0 to 840 seconds", v)
		}
		c.WaitHealthy = time.Duration(n) * time.Second
	}
	if v, ok := get("LIFECYCLE_ON_FAILURE"); ok {
		switch strings.ToUpper(v) {
		case "CONTINUE", "ABANDON":
			c.LifecycleOnFailure = strings.ToUpper(v)
		default:
			return c, fmt.Errorf("LIFECYCLE_ON_FAILURE=%q: want continue or abandon", v)
		}
	}
	if v, ok := get("LIFECYCLE_HEARTBEAT_SECONDS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 7200 {
			return c, fmt.Errorf("LIFECYCLE_HEARTBEAT_SECONDS=%q: want 1 to 7200 seconds", v)
		}
		c.Heartbeat = time.Duration(n) * time.Second
	}
	if v, ok := get("RECONCILE_MAX"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return c, fmt.Errorf("RECONCILE_MAX=%q: want 1 to 10000 instances", v)
		}
		c.ReconcileMax = n
	}
	if v, ok := get("LOG_LEVEL"); ok {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", v)
		}
	}
	return c, nil
}

// Allowed reports whether the target (name or ARN) is listed in AllowedTargets.
func (c Config) Allowed(name, arn string) bool {
	for _, a := range c.AllowedTargets {
		if a == name || (arn != "" && a == arn) {
			return true
		}
	}
	return false
}

func boolVar(get func(string) (string, bool), key string) (bool, error) {
	v, ok := get(key)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", key, v)
	}
	return b, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
