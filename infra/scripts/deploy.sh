#!/usr/bin/env bash
# Deploy elbattach (template.yaml) or its sample stack (infra/sample-stack.yaml) to the AWS account and region of
# the current AWS credentials (AWS_PROFILE, AWS_REGION / AWS_DEFAULT_REGION, ...).
#
# Usage: infra/scripts/deploy.sh [--dry-run] [app|sample]
#   app     (default) the functions, from the bootstraps `make build` left in $BUILD_DIR/<function>/bootstrap
#           (linux/arm64, as template.yaml declares): each is zipped to $BUILD_DIR/deploy/<function>.zip and a copy
#           of template.yaml whose CodeUri values name those zips is written to $BUILD_DIR/deploy/template.yaml.
#           With the AWS SAM CLI on PATH:  sam deploy of that copy (--resolve-s3 unless S3_BUCKET is set);
#           without it:                    aws cloudformation package (to S3_BUCKET, required) into
#                                          $BUILD_DIR/packaged.yaml, then aws cloudformation deploy.
#           (The copy, not template.yaml itself: template.yaml's CodeUri is the Go source folder, for `sam build`;
#           deploying it unbuilt would upload the source as the function code.)
#   sample  infra/sample-stack.yaml as stack "$STACK-sample" (aws cloudformation deploy; no S3, no build).
#   --dry-run  print the deploy commands instead of running them (the zips and the template copy are still
#              written), so this runs without an AWS account.
#
# Environment:
#   STACK        stack name (default elbattach; the sample stack is "$STACK-sample")
#   S3_BUCKET    bucket for the code zips (required without sam; with sam it replaces --resolve-s3)
#   S3_PREFIX    optional key prefix in S3_BUCKET
#   BUILD_DIR    build folder (default build)
#   Template parameters: each function environment variable of template.yaml (Globals, `NAME: !Ref Parameter`)
#   that is set here is passed as that parameter (an empty value as empty; unset ones keep the stack's current
#   value, or the template default on the first deploy):
#     TAG_KEY -> TagKey, ALLOWED_TARGETS -> AllowedTargets, PUBLIC_SUBNET_PREFIX -> PublicSubnetPrefix,
#     NLB_CLIENT_CIDRS -> NlbClientCidrs, DRY_RUN -> DryRun, LOG_LEVEL -> LogLevel, FIX_NACLS -> FixNacls,
#     WAIT_HEALTHY_SECONDS -> WaitHealthySeconds, LIFECYCLE_ON_FAILURE -> LifecycleOnFailure, ...
#     (DRY_RUN is the functions' dry-run mode, not this script's --dry-run)
#   sample only: SAMPLE_DESIRED_CAPACITY -> DesiredCapacity
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}"; }
die() {
  echo "deploy.sh: $*" >&2
  exit 1
}

dry_run=false
mode=app
while (($#)); do
  case $1 in
    --dry-run) dry_run=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    app | sample) mode=$1 ;;
    *) die "unknown argument '$1' (usage: deploy.sh [--dry-run] [app|sample])" ;;
  esac
  shift
done

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
STACK=${STACK:-elbattach}
BUILD_DIR=${BUILD_DIR:-build}
BUILD_DIR=${BUILD_DIR%/}

# print a command (readable and paste-able: plain words bare, anything else single-quoted), then run it unless
# --dry-run
run() {
  local out="+" a
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      out+=" $a"
    else
      out+=" '${a//\'/\'\\\'\'}'"
    fi
  done
  echo "$out"
  if ! $dry_run; then
    "$@"
  fi
}

need_aws() {
  $dry_run || command -v aws >/dev/null || die "the AWS CLI (aws) is not on PATH: install it, or the AWS SAM CLI"
}

# params ENV=Key ...: "Key=value" for each ENV that is set (even to "")
params=()
collect_params() {
  local pair env
  params=()
  for pair in "$@"; do
    env=${pair%%=*}
    if [[ -n ${!env+set} ]]; then
      params+=("${pair#*=}=${!env}")
    fi
  done
}

s3_args=()
if [[ -n ${S3_BUCKET:-} ]]; then
  s3_args=(--s3-bucket "$S3_BUCKET")
  if [[ -n ${S3_PREFIX:-} ]]; then
    s3_args+=(--s3-prefix "$S3_PREFIX")
  fi
fi

if [[ $mode == sample ]]; then
  need_aws
  collect_params SAMPLE_DESIRED_CAPACITY=DesiredCapacity
  cmd=(aws cloudformation deploy --template-file infra/sample-stack.yaml --stack-name "$STACK-sample"
    --no-fail-on-empty-changeset)
  if ((${#params[@]})); then
    cmd+=(--parameter-overrides "${params[@]}")
  fi
  run "${cmd[@]}"
  if $dry_run; then
    echo "dry run: nothing deployed"
  fi
  exit 0
fi

# --- app --------------------------------------------------------------------------------------------------------
[[ -f template.yaml ]] || die "template.yaml not found in $PWD"
have_sam=false
if command -v sam >/dev/null; then
  have_sam=true
elif [[ -z ${S3_BUCKET:-} ]]; then
  die "S3_BUCKET is not set: without the AWS SAM CLI, 'aws cloudformation package' needs a bucket for the code
  zips (S3_BUCKET=my-bucket make deploy), or install the SAM CLI (it creates a bucket with --resolve-s3)"
else
  need_aws
fi

# The functions: every `CodeUri: functions/<name>/` of template.yaml (the Makefile builds the same folders).
functions=()
while IFS= read -r fn; do
  functions+=("$fn")
done < <(sed -nE 's#^[[:space:]]+CodeUri:[[:space:]]+"?functions/([A-Za-z0-9_.-]+)/?"?[[:space:]]*$#\1#p' template.yaml)
((${#functions[@]})) || die "no 'CodeUri: functions/<name>/' found in template.yaml"

missing=()
for fn in "${functions[@]}"; do
  bin=$BUILD_DIR/$fn/bootstrap
  if [[ ! -f $bin ]]; then
    missing+=("$bin")
    continue
  fi
  [[ -x $bin ]] || die "$bin is not executable (Lambda runs it as is): run 'make build' again"
  # ELF magic, then e_machine (offset 18, little-endian): 0xb7 = aarch64, as template.yaml's Architectures.
  magic=$(od -An -tx1 -N4 "$bin" | tr -d ' \n')
  machine=$(od -An -tx1 -j18 -N2 "$bin" | tr -d ' \n')
  [[ $magic == 7f454c46 ]] || die "$bin is not an ELF executable: run 'make build'"
  [[ $machine == b700 ]] || die "$bin is not built for arm64 (ELF machine 0x${machine:2:2}${machine:0:2}), but template.yaml says Architectures: [arm64]: run 'make build' (ARCH=arm64)"
done
if ((${#missing[@]})); then
  die "build artifacts missing: ${missing[*]}: run 'make build' first (make deploy does)"
fi

# Zip each bootstrap (python3's zipfile: no zip binary needed; the file mode, executable bits included, is kept)
# and write the template copy next to the zips, so that CodeUri is relative to the template as package expects.
out=$BUILD_DIR/deploy
rm -rf "$out"
mkdir -p "$out"
sed_args=()
for fn in "${functions[@]}"; do
  python3 -m zipfile -c "$out/$fn.zip" "$BUILD_DIR/$fn/bootstrap"
  sed_args+=(-e "s#^([[:space:]]+CodeUri:[[:space:]]+)\"?functions/$fn/?\"?[[:space:]]*\$#\\1$fn.zip#")
done
{
  echo "# GENERATED by infra/scripts/deploy.sh from template.yaml: CodeUri names the zipped $BUILD_DIR/<function>/bootstrap."
  echo "# Do not edit; edit template.yaml."
  sed -E "${sed_args[@]}" template.yaml
} >"$out/template.yaml"
if grep -nE '^[[:space:]]+CodeUri:[[:space:]]+"?functions/' "$out/template.yaml" >&2; then
  die "$out/template.yaml: a CodeUri above still points at the source"
fi
echo "wrote $out/template.yaml and ${functions[*]/%/.zip} in $out"

# ENV=Parameter pairs: the `NAME: !Ref Parameter` lines of the Globals section (the functions' environment).
env_params=()
while IFS= read -r pair; do
  env_params+=("$pair")
done < <(sed -nE '/^Globals:/,/^[^[:space:]#]/{s/^[[:space:]]+([A-Z][A-Z0-9_]*):[[:space:]]+!Ref[[:space:]]+([A-Za-z0-9]+)[[:space:]]*$/\1=\2/p;}' template.yaml)
((${#env_params[@]})) || die "no 'NAME: !Ref Parameter' environment variables found in the Globals of template.yaml"
collect_params "${env_params[@]}"

caps=(--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND)
if $have_sam; then
  # sam takes the overrides as one string of Key="value" pairs (quoted, so that empty values, commas and spaces
  # survive; sam unescapes \" inside).
  cmd=(sam deploy --template-file "$out/template.yaml" --stack-name "$STACK" "${caps[@]}" --no-fail-on-empty-changeset)
  if ((${#s3_args[@]})); then
    cmd+=("${s3_args[@]}")
  else
    cmd+=(--resolve-s3)
  fi
  if ((${#params[@]})); then
    overrides=""
    for p in "${params[@]}"; do
      v=${p#*=}
      overrides+="${overrides:+ }${p%%=*}=\"${v//\"/\\\"}\""
    done
    cmd+=(--parameter-overrides "$overrides")
  fi
  run "${cmd[@]}"
else
  run aws cloudformation package --template-file "$out/template.yaml" "${s3_args[@]}" \
    --output-template-file "$BUILD_DIR/packaged.yaml"
  # (deploy uploads the template to S3_BUCKET too, should it ever outgrow the 51,200 bytes of an inline body)
  cmd=(aws cloudformation deploy --template-file "$BUILD_DIR/packaged.yaml" --stack-name "$STACK" "${caps[@]}"
    "${s3_args[@]}" --no-fail-on-empty-changeset)
  if ((${#params[@]})); then
    cmd+=(--parameter-overrides "${params[@]}")
  fi
  run "${cmd[@]}"
fi
if $dry_run; then
  echo "dry run: nothing deployed"
fi
