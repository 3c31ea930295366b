#!/usr/bin/env bash
# Offline checks of template.yaml and events/*.json (no AWS account, no server):
#   1. cfn-lint reports nothing (errors, warnings and informational findings);
#   2. every function carries ElbattachPolicy, the shared pipeline's calls (which other policy each function
#      needs is checked against its code by infra/e2e/iam_test.go, TestIAMPerFunction);
#   3. every IAM action of the managed policies exists and every scoped resource ARN is a resource type that
#      action is authorized on (cfn-lint's copy of the AWS policy data; cfn-lint does not check this itself);
#   4. the EventBridge patterns match exactly the sample events they should (moto's matcher, in process).
# Usage: infra/template_test.sh   (from anywhere; needs cfn-lint, and moto for step 4)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cfn-lint"
out=$(cfn-lint --include-checks I -- template.yaml 2>&1) || true
if [[ -n "$out" ]]; then
  echo "$out"
  echo "FAIL: cfn-lint reported findings"
  exit 1
fi
echo "ok"

python3 - <<'EOF'
import glob, json, os, re, sys
sys.path.insert(0, "infra/scripts")
import cfnyaml
import cfnlint

fail = []

tpl = cfnyaml.load("template.yaml")
funcs = {k: v for k, v in tpl["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}

print("== every function carries ElbattachPolicy")
for name, f in funcs.items():
    if {"Ref": "ElbattachPolicy"} not in f["Properties"]["Policies"] and "ElbattachPolicy" not in json.dumps(f["Properties"]["Policies"]):
        fail.append(f"{name}: no ElbattachPolicy in {f['Properties']['Policies']}")
print("ok" if not fail else "FAIL")

print("== IAM actions and resource types")
data = json.load(open(os.path.join(os.path.dirname(cfnlint.__file__), "data/AdditionalSpecs/Policies.json")))

def resource_type(service, arn):
    """Longest resource type of `service` whose ARN format matches `arn` (placeholders become wildcards)."""
    best = None
    for rtype, spec in data[service]["Resources"].items():
        for fmt in spec.get("ARNFormats", []):
            rx = re.sub(r"\\\$\\\{[^}]*\\\}", ".*", re.escape(fmt).replace(r"\.\*", ".*"))
            probe = arn.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "us-east-1")
            probe = probe.replace("${AWS::AccountId}", "123456789012")
            if re.fullmatch(rx, probe) and (best is None or len(rtype) > len(best)):
                best = rtype
    return best

statements = [st for r in tpl["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"
              for st in r["Properties"]["PolicyDocument"]["Statement"]]
if len(statements) < 10:
    fail.append(f"only {len(statements)} IAM statements found")
for stmt in statements:
    actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
    resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
    for action in actions:
        service, op = action.split(":")
        spec = data.get(service, {}).get("Actions", {}).get(op.lower())
        if spec is None:
            fail.append(f"{stmt['Sid']}: unknown action {action}")
            continue
        for res in resources:
            if res == "*":
                continue
            arn = res["!Sub"] if isinstance(res, dict) else res
            rtype = resource_type(service, arn)
            if (rtype or "").lower() not in [r.lower() for r in spec.get("Resources", [])]:
                fail.append(f"{stmt['Sid']}: {action} is not authorized on {rtype or arn} (only {spec.get('Resources')})")
    for op, keys in (stmt.get("Condition") or {}).items():
        for key in keys:
            if key.startswith("aws:RequestTag/") or key.startswith("aws:ResourceTag/"):
                generic = key.split("/")[0] + "/${TagKey}"
                for res in resources:
                    arn = res["!Sub"] if isinstance(res, dict) else res
                    service = actions[0].split(":")[0]
                    rtype = resource_type(service, arn)
                    if generic not in data[service]["Resources"].get(rtype, {}).get("ConditionKeys", []):
                        fail.append(f"{stmt['Sid']}: {key} is not a condition key of {rtype}")
print("ok" if not fail else "FAIL")

print("== EventBridge patterns against events/")
for path in sorted(glob.glob("events/*.json")):
    json.load(open(path))  # every sample must at least be valid JSON
try:
    from moto.events.models import EventPattern
except ImportError:
    fail.append("moto is not installed: the patterns could not be checked (make deps says what is missing)")
else:
    rules = {}
    for fname, f in funcs.items():
        for ename, ev in f["Properties"].get("Events", {}).items():
            if ev["Type"] == "EventBridgeRule":
                pattern = ev["Properties"]["Pattern"]
                if not isinstance(pattern, dict) or "!" in json.dumps(pattern):
                    fail.append(f"{fname}.{ename}: Pattern must be a plain mapping")
                rules[fname + ename] = EventPattern.load(json.dumps(pattern))
    expect = {
        "events/instance-running.json": ["InstanceStateFunctionInstanceStateChanged"],
        "events/instance-pending.json": [],
        "events/instance-stopped.json": ["InstanceStateFunctionInstanceStateChanged"],
        "events/manual-detach.json": [],
        "events/lifecycle-launch.json": ["LifecycleFunctionLifecycleAction"],
        "events/lifecycle-terminate.json": ["LifecycleFunctionLifecycleAction"],
        "events/lifecycle-other-hook.json": [],
        "events/manual-diagnose.json": [],
        "events/tag-change.json": ["TagChangeFunctionTagChanged"],
        "events/tag-change-other.json": [],
        "events/manual-attach.json": [],
        "events/manual-dry-run.json": [],
    }
    for path, want in expect.items():
        event = json.load(open(path))
        got = [name for name, pattern in rules.items() if pattern.matches_event(event)]
        status = "ok  " if got == want else "FAIL"
        print(f"{status} {path}: matched {got or 'nothing'}")
        if got != want:
            fail.append(f"{path}: matched {got}, want {want}")

if fail:
    print("\n".join(["", "FAILURES:"] + fail))
    sys.exit(1)
print("== all template checks passed")
EOF
