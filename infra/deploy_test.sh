#!/usr/bin/env bash
# Offline tests of infra/scripts/deploy.sh (no AWS account, no SAM CLI) and a lint of infra/sample-stack.yaml.
#
# deploy.sh runs in a temporary copy of the repository (template.yaml, the script, the sample stack) with dummy
# arm64 build/<function>/bootstrap files, so the real build/ is never touched. It runs with a clean environment
# (env -i) and a PATH of a few symlinked tools: no sam unless a test adds a fake one, and a fake aws that records
# its calls (so a dry run that calls aws is caught, and a real run is checked call by call).
#
# Usage: infra/deploy_test.sh   (from anywhere; needs python3 with PyYAML, cfn-lint and shellcheck)
# Prints "N passed, N failed"; exits non-zero when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CFNYAML_DIR=$PWD/infra/scripts

pass=0
fail=0
ok() {
  pass=$((pass + 1))
  echo "ok   $1"
}
bad() {
  fail=$((fail + 1))
  echo "FAIL $1"
  if [[ -n ${2:-} ]]; then
    show "$2"
  fi
}
# has TEXT NEEDLE: TEXT contains NEEDLE literally; has_line TEXT LINE: TEXT has the exact line LINE
has() { grep -qF -- "$2" <<<"$1"; }
has_line() { grep -qxF -- "$2" <<<"$1"; }
# show TEXT: TEXT indented, as the evidence under an ok line
show() {
  local line
  while IFS= read -r line; do
    echo "     | $line"
  done <<<"$1"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- sandbox ------------------------------------------------------------------------------------------------------
repo=$tmp/repo
mkdir -p "$repo/infra/scripts"
cp template.yaml "$repo/"
cp infra/sample-stack.yaml "$repo/infra/"
cp infra/scripts/deploy.sh "$repo/infra/scripts/"

# The tools deploy.sh uses (and the fakes use), nothing else: in particular no sam and no real aws.
bin=$tmp/bin
mkdir -p "$bin"
for t in bash dirname sed od tr grep rm mkdir cp cat; do
  ln -s "$(command -v "$t")" "$bin/$t"
done
ln -s "$(python3 -c 'import sys; print(sys.executable)')" "$bin/python3"

# A fake aws: records each call (one line of arguments), and for `cloudformation package` writes the output
# template as a copy of the input, as the real one would (with s3:// URIs).
fake_aws=$tmp/fake-aws
mkdir -p "$fake_aws"
cat >"$fake_aws/aws" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
echo "aws $*" >>"$FAKE_LOG"
if [[ "$1 $2" == "cloudformation package" ]]; then
  in="" out=""
  while (($#)); do
    case $1 in
      --template-file) in=$2 ;;
      --output-template-file) out=$2 ;;
    esac
    shift
  done
  cp "$in" "$out"
fi
EOF
fake_sam=$tmp/fake-sam
mkdir -p "$fake_sam"
cat >"$fake_sam/sam" <<'EOF'
#!/usr/bin/env bash
echo "sam $*" >>"$FAKE_LOG"
EOF
chmod +x "$fake_aws/aws" "$fake_sam/sam"
log=$tmp/calls.log

# A 64-byte ELF header (64-bit, little-endian, executable) with e_machine $1 in hex: b7 aarch64, 3e x86-64.
elf() {
  python3 -c 'import sys; sys.stdout.buffer.write(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00"
    + int(sys.argv[1], 16).to_bytes(2, "little") + bytes(44))' "$1"
}
# The functions and the env -> parameter map, read from template.yaml with PyYAML (independently of deploy.sh's
# own reading): functions from the CodeUri of each AWS::Serverless::Function; the map from the Globals environment
# (NAME: !Ref Parameter). The seven of `required` must be among them; one without a value below gets a made-up one.
functions=()
all_params=()
all_overrides=()
sam_overrides=""
while IFS=$'\t' read -r kind a b c; do
  case $kind in
    fn) functions+=("$a") ;;
    param)
      all_params+=("$a=$c")
      all_overrides+=("$b=$c")
      sam_overrides+="${sam_overrides:+ }$b=\"$c\""
      ;;
    *)
      echo "deploy_test.sh: $a" >&2
      exit 1
      ;;
  esac
done < <(
  python3 - <<'PY'
import os, sys
sys.path.insert(0, os.environ["CFNYAML_DIR"])
import cfnyaml

tpl = cfnyaml.load("template.yaml")
for res in tpl["Resources"].values():
    if res["Type"] == "AWS::Serverless::Function":
        print("fn\t" + res["Properties"]["CodeUri"].strip("/").split("/")[-1])
# The seven of the brief must exist; values for later ones are optional.
required = ["TAG_KEY", "ALLOWED_TARGETS", "PUBLIC_SUBNET_PREFIX", "NLB_CLIENT_CIDRS", "DRY_RUN", "LOG_LEVEL", "FIX_NACLS"]
values = {"TAG_KEY": "team:target", "ALLOWED_TARGETS": "web-tg,api-tg", "PUBLIC_SUBNET_PREFIX": "26",
          "NLB_CLIENT_CIDRS": "10.0.0.0/8,192.168.0.0/16", "DRY_RUN": "true", "LOG_LEVEL": "debug", "FIX_NACLS": "true",
          "WAIT_HEALTHY_SECONDS": "120", "LIFECYCLE_ON_FAILURE": "abandon"}
env = tpl["Globals"]["Function"]["Environment"]["Variables"]
refs = {k: v["!Ref"] for k, v in env.items() if isinstance(v, dict) and "!Ref" in v}
missing = sorted(set(required) - set(refs))
if missing:
    print(f"error\ttemplate.yaml: the Globals environment lacks {missing}")
for k, param in refs.items():
    print(f"param\t{k}\t{param}\t{values.get(k, 'test-' + k.lower().replace('_', '-'))}")
PY
)
((${#functions[@]} && ${#all_params[@]})) || { echo "deploy_test.sh: could not read template.yaml" >&2; exit 1; }
make_build() { # make_build MACHINE: dummy bootstraps in the sandbox's build/
  rm -rf "$repo/build"
  for fn in "${functions[@]}"; do
    mkdir -p "$repo/build/$fn"
    elf "$1" >"$repo/build/$fn/bootstrap"
    chmod 755 "$repo/build/$fn/bootstrap"
  done
}

# deploy PATHPREFIX [VAR=value ...] -- ARGS: run the sandbox's deploy.sh; sets out (stdout+stderr) and rc.
deploy() {
  local path=$bin
  if [[ -n $1 ]]; then
    path=$1:$bin
  fi
  shift
  local vars=()
  while [[ $1 != -- ]]; do
    vars+=("$1")
    shift
  done
  shift
  : >"$log"
  rc=0
  out=$(env -i HOME="$tmp" PATH="$path" FAKE_LOG="$log" "${vars[@]}" "$repo/infra/scripts/deploy.sh" "$@" 2>&1) || rc=$?
}

caps="--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"

# --- errors -------------------------------------------------------------------------------------------------------
rm -rf "$repo/build"
deploy "$fake_aws" STACK=elbattach-test -- --dry-run
if ((rc != 0)) && has "$out" "S3_BUCKET is not set"; then
  ok "no sam and no S3_BUCKET: clear error"
else
  bad "no sam and no S3_BUCKET: want an S3_BUCKET error (rc=$rc)" "$out"
fi

deploy "$fake_aws" S3_BUCKET=example -- --dry-run
if ((rc != 0)) && has "$out" "build artifacts missing" && has "$out" "build/instance-state/bootstrap" &&
  has "$out" "make build"; then
  ok "no build artifacts: clear error"
else
  bad "no build artifacts: want a 'run make build' error (rc=$rc)" "$out"
fi

make_build 3e
deploy "$fake_aws" S3_BUCKET=example -- --dry-run
if ((rc != 0)) && has "$out" "not built for arm64"; then
  ok "x86-64 bootstrap: refused (template.yaml is arm64)"
else
  bad "x86-64 bootstrap: want an arm64 error (rc=$rc)" "$out"
fi

deploy "$fake_aws" S3_BUCKET=example -- --dry-run bogus
if ((rc != 0)) && has "$out" "unknown argument"; then
  ok "unknown argument: usage error"
else
  bad "unknown argument: want a usage error (rc=$rc)" "$out"
fi

# --- dry run, awscli path -----------------------------------------------------------------------------------------
make_build b7
deploy "$fake_aws" STACK=elbattach-test S3_BUCKET=example "${all_params[@]}" -- --dry-run
package_line="+ aws cloudformation package --template-file build/deploy/template.yaml --s3-bucket example --output-template-file build/packaged.yaml"
deploy_line="+ aws cloudformation deploy --template-file build/packaged.yaml --stack-name elbattach-test $caps --s3-bucket example --no-fail-on-empty-changeset --parameter-overrides ${all_overrides[*]}"
if ((rc == 0)) && has_line "$out" "$package_line" && has_line "$out" "$deploy_line"; then
  ok "dry run: prints package and deploy with every parameter override"
  show "$out"
else
  bad "dry run: want rc=0 and the lines
  $package_line
  $deploy_line
got (rc=$rc):" "$out"
fi
if [[ ! -s $log && ! -e $repo/build/packaged.yaml ]]; then
  ok "dry run: aws is not called"
else
  bad "dry run: aws was called" "$(cat "$log")"
fi

# The generated template: CodeUri -> <function>.zip next to it, each zip exactly the bootstrap (mode 0755), and
# apart from CodeUri (and the two header comment lines) the same as template.yaml.
if check=$(cd "$repo" && python3 - "${functions[@]}" <<'PY' 2>&1
import os, sys, zipfile
sys.path.insert(0, os.environ["CFNYAML_DIR"])
import cfnyaml

src = cfnyaml.load("template.yaml")
gen = cfnyaml.load("build/deploy/template.yaml")
errors = []
want = set(sys.argv[1:])
seen = set()
for name, res in gen["Resources"].items():
    if res["Type"] != "AWS::Serverless::Function":
        continue
    uri = res["Properties"]["CodeUri"]
    fn = src["Resources"][name]["Properties"]["CodeUri"].strip("/").split("/")[-1]
    seen.add(fn)
    if uri != f"{fn}.zip":
        errors.append(f"{name}: CodeUri {uri!r}, want {fn}.zip")
        continue
    path = os.path.join("build/deploy", uri)
    if not os.path.isfile(path):
        errors.append(f"{name}: {path} missing")
        continue
    z = zipfile.ZipFile(path)
    names = z.namelist()
    if names != ["bootstrap"]:
        errors.append(f"{path}: holds {names}, want ['bootstrap']")
        continue
    mode = z.getinfo("bootstrap").external_attr >> 16 & 0o777
    if mode != 0o755:
        errors.append(f"{path}: bootstrap mode {oct(mode)}, want 0o755")
    if z.read("bootstrap") != open(f"build/{fn}/bootstrap", "rb").read():
        errors.append(f"{path}: bootstrap differs from build/{fn}/bootstrap")
    res["Properties"]["CodeUri"] = src["Resources"][name]["Properties"]["CodeUri"]
if seen != want:
    errors.append(f"functions {sorted(seen)}, want {sorted(want)}")
if gen != src:
    errors.append("the generated template differs from template.yaml beyond CodeUri")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY
); then
  ok "generated template: CodeUri names build/deploy/<function>.zip, each zip holds the bootstrap (0755)"
else
  bad "generated template" "$check"
fi

if lint=$(cfn-lint --include-checks I -- "$repo/build/deploy/template.yaml" 2>&1) && [[ -z $lint ]]; then
  ok "generated template: cfn-lint (errors, warnings, informational) clean"
else
  bad "generated template: cfn-lint" "$lint"
fi

# Only the parameters that are set; set-but-empty is passed as empty.
deploy "$fake_aws" S3_BUCKET=example LOG_LEVEL=warn ALLOWED_TARGETS= -- --dry-run
want="+ aws cloudformation deploy --template-file build/packaged.yaml --stack-name elbattach $caps --s3-bucket example --no-fail-on-empty-changeset --parameter-overrides AllowedTargets= LogLevel=warn"
if ((rc == 0)) && has_line "$out" "$want"; then
  ok "dry run: only the parameters set (AllowedTargets= empty, LogLevel=warn)"
else
  bad "dry run: want only '$want' (rc=$rc)" "$out"
fi

deploy "$fake_aws" S3_BUCKET=example S3_PREFIX=elbattach -- --dry-run
if ((rc == 0)) && ! has "$out" "--parameter-overrides" && has "$out" "--stack-name elbattach " &&
  has "$out" "--s3-bucket example --s3-prefix elbattach --output-template-file"; then
  ok "dry run: no parameters set -> no --parameter-overrides; default stack name; S3_PREFIX"
else
  bad "dry run without parameters (rc=$rc)" "$out"
fi

# --- dry run, SAM CLI path ----------------------------------------------------------------------------------------
deploy "$fake_sam:$fake_aws" STACK=elbattach-test "${all_params[@]}" -- --dry-run
sam_line="+ sam deploy --template-file build/deploy/template.yaml --stack-name elbattach-test $caps --no-fail-on-empty-changeset --resolve-s3 --parameter-overrides '$sam_overrides'"
if ((rc == 0)) && has_line "$out" "$sam_line" && [[ ! -s $log ]]; then
  ok "dry run with sam: sam deploy --resolve-s3 of the generated template with every override; nothing called"
  show "$out"
else
  bad "dry run with sam: want rc=0, no calls and
  $sam_line
got (rc=$rc):" "$out
calls: $(cat "$log")"
fi

deploy "$fake_sam:$fake_aws" S3_BUCKET=example -- --dry-run
if ((rc == 0)) && has "$out" "--s3-bucket example" && ! has "$out" "--resolve-s3"; then
  ok "dry run with sam and S3_BUCKET: --s3-bucket instead of --resolve-s3"
else
  bad "dry run with sam and S3_BUCKET (rc=$rc)" "$out"
fi

# --- real run against the fake aws ----------------------------------------------------------------------------------
deploy "$fake_aws" STACK=elbattach-test S3_BUCKET=example LOG_LEVEL=debug --
want_calls="aws cloudformation package --template-file build/deploy/template.yaml --s3-bucket example --output-template-file build/packaged.yaml
aws cloudformation deploy --template-file build/packaged.yaml --stack-name elbattach-test $caps --s3-bucket example --no-fail-on-empty-changeset --parameter-overrides LogLevel=debug"
if ((rc == 0)) && [[ $(cat "$log") == "$want_calls" && -s $repo/build/packaged.yaml ]]; then
  ok "real run (fake aws): package, then deploy of build/packaged.yaml"
else
  bad "real run (fake aws): want rc=0 and calls
$want_calls
got (rc=$rc):" "$(cat "$log")
output: $out"
fi

# --- sample stack -------------------------------------------------------------------------------------------------
rm -rf "$repo/build"
deploy "$fake_aws" STACK=elbattach-test SAMPLE_DESIRED_CAPACITY=1 TAG_KEY=ignored -- --dry-run sample
want="+ aws cloudformation deploy --template-file infra/sample-stack.yaml --stack-name elbattach-test-sample --no-fail-on-empty-changeset --parameter-overrides DesiredCapacity=1"
if ((rc == 0)) && has_line "$out" "$want" && [[ ! -s $log ]]; then
  ok "sample dry run: deploys infra/sample-stack.yaml as <stack>-sample (no S3_BUCKET, no build needed)"
  show "$out"
else
  bad "sample dry run: want
  $want
got (rc=$rc):" "$out"
fi

# --- lint ---------------------------------------------------------------------------------------------------------
if lint=$(cfn-lint --include-checks I -- infra/sample-stack.yaml 2>&1) && [[ -z $lint ]]; then
  ok "cfn-lint infra/sample-stack.yaml: clean (errors, warnings, informational)"
else
  bad "cfn-lint infra/sample-stack.yaml" "$lint"
fi

if command -v shellcheck >/dev/null; then
  if sc=$(shellcheck infra/scripts/*.sh infra/*.sh .ci/run 2>&1); then
    ok "shellcheck infra/scripts/*.sh infra/*.sh .ci/run"
  else
    bad "shellcheck" "$sc"
  fi
else
  bad "shellcheck" "not installed (make deps installs it)"
fi

echo "$pass passed, $fail failed"
((fail == 0))
