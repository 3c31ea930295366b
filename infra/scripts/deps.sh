#!/usr/bin/env bash
# Checks (and where it can, installs) what the tests and the demo need besides
# Go modules: moto_server 5.2.1, cfn-lint with the SAM translator, python3 with
# PyYAML (these come with the machine image, pyenv Python 3.11; PyPI is not
# reachable here, so a missing one is reported, not fetched), and, from
# Debian's packages, ShellCheck and a C compiler (go test -race needs cgo).
set -euo pipefail
export PATH="${PYENV_ROOT:-$HOME/.pyenv}/shims:${PYENV_ROOT:-$HOME/.pyenv}/bin:$PATH"
# Debian packages: installed when missing (as root), their output kept for a failure.
apt_missing=()
command -v shellcheck >/dev/null || apt_missing+=(shellcheck)
command -v gcc >/dev/null || apt_missing+=(gcc libc6-dev)
if ((${#apt_missing[@]})) && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log=$(mktemp)
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}") >"$log" 2>&1; then
    echo "apt-get install ${apt_missing[*]} failed:" >&2
    tail -n 20 "$log" >&2
  fi
  rm -f "$log"
fi
missing=()
command -v shellcheck >/dev/null || missing+=("shellcheck (apt-get install shellcheck)")
command -v gcc >/dev/null || missing+=("a C compiler for go test -race (apt-get install gcc libc6-dev)")
command -v moto_server >/dev/null || missing+=("moto_server (pip install 'moto[server]==5.2.1')")
command -v cfn-lint >/dev/null || missing+=("cfn-lint (pip install cfn-lint aws-sam-translator)")
# A pyenv shim passes command -v even when the active Python lacks the tool:
# import what the scripts import, from the python3 they run.
python3 -c 'import moto, cfnlint, samtranslator, yaml; assert moto.__version__ == "5.2.1", moto.__version__' 2>/dev/null ||
  missing+=("python3 with moto 5.2.1, cfn-lint, aws-sam-translator and PyYAML (pyenv Python 3.11 of the machine image)")
if ((${#missing[@]})); then
  printf 'missing: %s\n' "${missing[@]}" >&2
  exit 1
fi
