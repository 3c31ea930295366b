package config_test

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/elbattach/elbattach/shared/config"
)

// env is a lookup over the given variables (set, possibly to "").
func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// with returns the default config changed by f.
func with(f func(*config.Config)) config.Config {
	c := config.Default()
	f(&c)
	return c
}

var prefixCmp = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func TestDefault(t *testing.T) {
	want := config.Config{
		TagKey:             "elbattach:target",
		SubnetPrefix:       27,
		NLBClientCIDRs:     prefixes("0.0.0.0/0"),
		LogLevel:           slog.LevelInfo,
		LifecycleOnFailure: "CONTINUE",
		Heartbeat:          30 * time.Second,
		ReconcileMax:       100,
	}
	if diff := cmp.Diff(want, config.Default(), prefixCmp); diff != "" {
		t.Errorf("Default() (-want +got):\n%s", diff)
	}
	if config.DefaultTagKey != "elbattach:target" || config.AllowTagKey != "elbattach:allow" || config.ManagedTagKey != "elbattach:managed" {
		t.Errorf("tag keys %q %q %q", config.DefaultTagKey, config.AllowTagKey, config.ManagedTagKey)
	}
}

func TestFromEnv(t *testing.T) {
	allVars := []string{"TAG_KEY", "ALLOWED_TARGETS", "PUBLIC_SUBNET_PREFIX", "NLB_CLIENT_CIDRS", "DRY_RUN", "FIX_NACLS", "LOG_LEVEL",
		"WAIT_HEALTHY_SECONDS", "LIFECYCLE_ON_FAILURE", "LIFECYCLE_HEARTBEAT_SECONDS", "RECONCILE_MAX"}
	blank := func(v string) map[string]string {
		m := map[string]string{}
		for _, k := range allVars {
			m[k] = v
		}
		return m
	}
	tgARN := "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef"
	cases := []struct {
		name string
		env  map[string]string
		want config.Config
	}{
		{"nothing set", nil, config.Default()},
		{"every variable empty", blank(""), config.Default()},
		{"every variable blank", blank(" \t\n"), config.Default()},
		{"every variable", map[string]string{
			"TAG_KEY":                     "team:lb",
			"ALLOWED_TARGETS":             "web-tg," + tgARN,
			"PUBLIC_SUBNET_PREFIX":        "24",
			"NLB_CLIENT_CIDRS":            "10.0.0.0/8,192.168.1.0/24",
			"DRY_RUN":                     "true",
			"FIX_NACLS":                   "true",
			"LOG_LEVEL":                   "debug",
			"WAIT_HEALTHY_SECONDS":        "30",
			"LIFECYCLE_ON_FAILURE":        "abandon",
			"LIFECYCLE_HEARTBEAT_SECONDS": "60",
		}, config.Config{
			WaitHealthy:        30 * time.Second,
			LifecycleOnFailure: "ABANDON",
			Heartbeat:          time.Minute,
			ReconcileMax:       100,
			TagKey:             "team:lb",
			AllowedTargets:     []string{"web-tg", tgARN},
			SubnetPrefix:       24,
			NLBClientCIDRs:     prefixes("10.0.0.0/8", "192.168.1.0/24"),
			DryRun:             true,
			FixNACLs:           true,
			LogLevel:           slog.LevelDebug,
		}},
		{"whitespace trimmed everywhere", map[string]string{
			"TAG_KEY":              "  team:lb\n",
			"ALLOWED_TARGETS":      " web-tg ,\tapi-tg , ,",
			"PUBLIC_SUBNET_PREFIX": " 20 ",
			"NLB_CLIENT_CIDRS":     " 10.0.0.0/8 ,  172.16.0.0/12 ",
			"DRY_RUN":              " false ",
			"FIX_NACLS":            "\t1\n",
			"LOG_LEVEL":            " warn ",
		}, with(func(c *config.Config) {
			c.TagKey, c.AllowedTargets, c.SubnetPrefix = "team:lb", []string{"web-tg", "api-tg"}, 20
			c.NLBClientCIDRs, c.FixNACLs, c.LogLevel = prefixes("10.0.0.0/8", "172.16.0.0/12"), true, slog.LevelWarn
		})},

		// TAG_KEY and ALLOWED_TARGETS.
		{"tag key kept as written", map[string]string{"TAG_KEY": "Elb Attach/Target"},
			with(func(c *config.Config) { c.TagKey = "Elb Attach/Target" })},
		{"allowed targets, empty items dropped", map[string]string{"ALLOWED_TARGETS": ",web,,api,"},
			with(func(c *config.Config) { c.AllowedTargets = []string{"web", "api"} })},
		{"allowed targets only commas", map[string]string{"ALLOWED_TARGETS": " , ,"}, config.Default()},

		// PUBLIC_SUBNET_PREFIX.
		{"prefix 16", map[string]string{"PUBLIC_SUBNET_PREFIX": "16"}, with(func(c *config.Config) { c.SubnetPrefix = 16 })},
		{"prefix 27", map[string]string{"PUBLIC_SUBNET_PREFIX": "27"}, config.Default()},
		{"prefix /24", map[string]string{"PUBLIC_SUBNET_PREFIX": "/24"}, with(func(c *config.Config) { c.SubnetPrefix = 24 })},
		{"prefix / 24 trimmed", map[string]string{"PUBLIC_SUBNET_PREFIX": " /26 "}, with(func(c *config.Config) { c.SubnetPrefix = 26 })},
		// strconv.Atoi is lenient: a sign and leading zeros are accepted.
		{"prefix +24", map[string]string{"PUBLIC_SUBNET_PREFIX": "+24"}, with(func(c *config.Config) { c.SubnetPrefix = 24 })},
		{"prefix 024", map[string]string{"PUBLIC_SUBNET_PREFIX": "024"}, with(func(c *config.Config) { c.SubnetPrefix = 24 })},

		// NLB_CLIENT_CIDRS.
		{"cidr host bits masked", map[string]string{"NLB_CLIENT_CIDRS": "192.168.1.7/24"},
			with(func(c *config.Config) { c.NLBClientCIDRs = prefixes("192.168.1.0/24") })},
		{"cidr /32", map[string]string{"NLB_CLIENT_CIDRS": "203.0.113.9/32"},
			with(func(c *config.Config) { c.NLBClientCIDRs = prefixes("203.0.113.9/32") })},

		// DRY_RUN and FIX_NACLS take strconv.ParseBool's spellings.
		{"dry run 1", map[string]string{"DRY_RUN": "1"}, with(func(c *config.Config) { c.DryRun = true })},
		{"dry run TRUE", map[string]string{"DRY_RUN": "TRUE"}, with(func(c *config.Config) { c.DryRun = true })},
		{"dry run t", map[string]string{"DRY_RUN": "t"}, with(func(c *config.Config) { c.DryRun = true })},
		{"dry run False", map[string]string{"DRY_RUN": "False"}, config.Default()},
		{"dry run 0", map[string]string{"DRY_RUN": "0"}, config.Default()},
		{"fix nacls True", map[string]string{"FIX_NACLS": "True"}, with(func(c *config.Config) { c.FixNACLs = true })},
		{"fix nacls false", map[string]string{"FIX_NACLS": "false"}, config.Default()},

		// LOG_LEVEL takes slog.Level's text form.
		{"log debug", map[string]string{"LOG_LEVEL": "debug"}, with(func(c *config.Config) { c.LogLevel = slog.LevelDebug })},
		{"log info", map[string]string{"LOG_LEVEL": "info"}, config.Default()},
		{"log warn", map[string]string{"LOG_LEVEL": "warn"}, with(func(c *config.Config) { c.LogLevel = slog.LevelWarn })},
		{"log error", map[string]string{"LOG_LEVEL": "error"}, with(func(c *config.Config) { c.LogLevel = slog.LevelError })},
		{"log ERROR", map[string]string{"LOG_LEVEL": "ERROR"}, with(func(c *config.Config) { c.LogLevel = slog.LevelError })},
		{"log Warn", map[string]string{"LOG_LEVEL": "Warn"}, with(func(c *config.Config) { c.LogLevel = slog.LevelWarn })},
		{"log info+2", map[string]string{"LOG_LEVEL": "info+2"}, with(func(c *config.Config) { c.LogLevel = slog.LevelInfo + 2 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.FromEnv(env(tc.env))
			if err != nil {
				t.Fatalf("FromEnv(%v): %v", tc.env, err)
			}
			if diff := cmp.Diff(tc.want, got, prefixCmp); diff != "" {
				t.Errorf("FromEnv(%v) (-want +got):\n%s", tc.env, diff)
			}
		})
	}
}

func TestFromEnvErrors(t *testing.T) {
	cases := []struct {
		name, key, value, wantMsg string
	}{
		{"prefix 15", "PUBLIC_SUBNET_PREFIX", "15", `PUBLIC_SUBNET_PREFIX="15": want a prefix length from 16 to 27`},
		{"prefix 28", "PUBLIC_SUBNET_PREFIX", "28", `PUBLIC_SUBNET_PREFIX="28": want a prefix length from 16 to 27`},
		{"prefix 0", "PUBLIC_SUBNET_PREFIX", "0", `PUBLIC_SUBNET_PREFIX="0"`},
		{"prefix 32", "PUBLIC_SUBNET_PREFIX", "/32", `PUBLIC_SUBNET_PREFIX="/32"`},
		{"prefix -24", "PUBLIC_SUBNET_PREFIX", "-24", `PUBLIC_SUBNET_PREFIX="-24"`},
		{"prefix abc", "PUBLIC_SUBNET_PREFIX", "abc", `PUBLIC_SUBNET_PREFIX="abc"`},
		{"prefix //24", "PUBLIC_SUBNET_PREFIX", "//24", `PUBLIC_SUBNET_PREFIX="//24"`},
		{"prefix 24.0", "PUBLIC_SUBNET_PREFIX", "24.0", `PUBLIC_SUBNET_PREFIX="24.0"`},
		{"prefix a CIDR", "PUBLIC_SUBNET_PREFIX", "10.0.0.0/24", `PUBLIC_SUBNET_PREFIX="10.0.0.0/24"`},
		{"prefix trimmed in message", "PUBLIC_SUBNET_PREFIX", " 28 ", `PUBLIC_SUBNET_PREFIX="28":`},

		{"cidr IPv6", "NLB_CLIENT_CIDRS", "::/0", `NLB_CLIENT_CIDRS: "::/0" is not an IPv4 CIDR block`},
		{"cidr IPv6 after IPv4", "NLB_CLIENT_CIDRS", "0.0.0.0/0, 2001:db8::/32", `NLB_CLIENT_CIDRS: "2001:db8::/32" is not an IPv4 CIDR block`},
		{"cidr IPv4-mapped IPv6", "NLB_CLIENT_CIDRS", "::ffff:10.0.0.0/104", `"::ffff:10.0.0.0/104" is not an IPv4 CIDR block`},
		{"cidr garbage", "NLB_CLIENT_CIDRS", "anywhere", `NLB_CLIENT_CIDRS: "anywhere" is not an IPv4 CIDR block`},
		{"cidr without length", "NLB_CLIENT_CIDRS", "10.0.0.0", `NLB_CLIENT_CIDRS: "10.0.0.0" is not an IPv4 CIDR block`},
		{"cidr length 33", "NLB_CLIENT_CIDRS", "10.0.0.0/33", `"10.0.0.0/33" is not an IPv4 CIDR block`},
		{"cidr bad octet", "NLB_CLIENT_CIDRS", "10.0.0.256/8", `"10.0.0.256/8" is not an IPv4 CIDR block`},
		{"cidrs space separated", "NLB_CLIENT_CIDRS", "10.0.0.0/8 172.16.0.0/12", `"10.0.0.0/8 172.16.0.0/12" is not an IPv4 CIDR block`},
		{"cidrs only commas", "NLB_CLIENT_CIDRS", " , ,", `NLB_CLIENT_CIDRS=", ," names no CIDR block`},
		{"wait healthy negative", "WAIT_HEALTHY_SECONDS", "-1", `WAIT_HEALTHY_SECONDS="-1": want 0 to 840 seconds`},
		{"wait healthy too long", "WAIT_HEALTHY_SECONDS", "900", `WAIT_HEALTHY_SECONDS="900"`},
		{"lifecycle on failure", "LIFECYCLE_ON_FAILURE", "retry", `LIFECYCLE_ON_FAILURE="retry": want continue or abandon`},
		{"heartbeat zero", "LIFECYCLE_HEARTBEAT_SECONDS", "0", `LIFECYCLE_HEARTBEAT_SECONDS="0"`},
		// EC2 reserves aws: and takes at most 128 characters: no instance could carry such a tag.
		{"tag key aws:", "TAG_KEY", "aws:elbattach", `TAG_KEY="aws:elbattach": want an EC2 tag key`},
		{"tag key AWS:", "TAG_KEY", "AWS:target", `TAG_KEY="AWS:target"`},
		{"tag key of 129", "TAG_KEY", strings.Repeat("k", 129), "1 to 128 characters"},
		{"reconcile max zero", "RECONCILE_MAX", "0", `RECONCILE_MAX="0": want 1 to 10000 instances`},

		{"dry run maybe", "DRY_RUN", "maybe", `DRY_RUN="maybe": want true or false`},
		{"dry run yes", "DRY_RUN", "yes", `DRY_RUN="yes": want true or false`},
		{"dry run on", "DRY_RUN", "on", `DRY_RUN="on"`},
		{"dry run 2", "DRY_RUN", "2", `DRY_RUN="2"`},
		{"fix nacls maybe", "FIX_NACLS", "maybe", `FIX_NACLS="maybe": want true or false`},
		{"fix nacls enabled", "FIX_NACLS", " enabled ", `FIX_NACLS="enabled"`},

		{"log loud", "LOG_LEVEL", "loud", `LOG_LEVEL="loud": want debug, info, warn or error`},
		{"log warning", "LOG_LEVEL", "warning", `LOG_LEVEL="warning"`},
		{"log trace", "LOG_LEVEL", "trace", `LOG_LEVEL="trace"`},
		{"log number", "LOG_LEVEL", "-4", `LOG_LEVEL="-4"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.FromEnv(env(map[string]string{tc.key: tc.value}))
			if err == nil {
				t.Fatalf("FromEnv(%s=%q) succeeded, want an error", tc.key, tc.value)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name %s", err, tc.key)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

// TestFromEnvFirstBadVariable: with several bad values, the error names one
// of them and a good value elsewhere does not hide it.
func TestFromEnvFirstBadVariable(t *testing.T) {
	_, err := config.FromEnv(env(map[string]string{
		"TAG_KEY": "team:lb", "PUBLIC_SUBNET_PREFIX": "24", "DRY_RUN": "maybe", "LOG_LEVEL": "loud",
	}))
	if err == nil || !strings.Contains(err.Error(), `DRY_RUN="maybe"`) {
		t.Errorf("error %v, want the DRY_RUN one (checked before LOG_LEVEL)", err)
	}
}

func TestFromEnvReadsOnlyItsVariables(t *testing.T) {
	asked := map[string]bool{}
	_, err := config.FromEnv(func(k string) (string, bool) { asked[k] = true; return "", false })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"TAG_KEY": true, "ALLOWED_TARGETS": true, "PUBLIC_SUBNET_PREFIX": true,
		"NLB_CLIENT_CIDRS": true, "DRY_RUN": true, "FIX_NACLS": true, "LOG_LEVEL": true,
		"WAIT_HEALTHY_SECONDS": true, "LIFECYCLE_ON_FAILURE": true, "LIFECYCLE_HEARTBEAT_SECONDS": true, "RECONCILE_MAX": true}
	if diff := cmp.Diff(want, asked); diff != "" {
		t.Errorf("variables read (-want +got):\n%s", diff)
	}
}

func TestAllowed(t *testing.T) {
	tgARN := "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef"
	c, err := config.FromEnv(env(map[string]string{"ALLOWED_TARGETS": " web-tg , " + tgARN}))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, tg, arn string
		want          bool
	}{
		{"listed name", "web-tg", "", true},
		{"listed name, any ARN", "web-tg", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/1", true},
		{"listed ARN", "api", tgARN, true},
		{"listed ARN, no name", "", tgARN, true},
		{"name of a listed ARN is not enough", "api", "", false},
		{"other ARN of a listed ARN's name", "api", "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0123456789abcdef", false},
		{"unlisted", "db-tg", "", false},
		{"case sensitive", "WEB-TG", "", false},
		{"no prefix match", "web", "", false},
		{"nothing", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Allowed(tc.tg, tc.arn); got != tc.want {
				t.Errorf("Allowed(%q, %q) = %v, want %v", tc.tg, tc.arn, got, tc.want)
			}
		})
	}
	t.Run("default allows nothing", func(t *testing.T) {
		if config.Default().Allowed("web-tg", tgARN) || config.Default().Allowed("", "") {
			t.Error("Default().Allowed is true")
		}
	})
	t.Run("a name listed as the ARN matches the ARN argument", func(t *testing.T) {
		c := config.Config{AllowedTargets: []string{"web-tg"}}
		if !c.Allowed("other", "web-tg") {
			t.Error("Allowed(other, web-tg) = false")
		}
	})
}
