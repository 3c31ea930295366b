#!/usr/bin/env bash
# Checks (and where it can, installs) what the tests and the demo need besides
# Go modules: moto_server 5.x, cfn-lint with the SAM translator, python3 with
# PyYAML. They come with the machine image (pyenv Python 3.11); PyPI is not
# reachable here, so a missing one is reported, not fetched.
set -euo pipefail
export PATH="${PYENV_ROOT:-$HOME/.pyenv}/shims:${PYENV_ROOT:-$HOME/.pyenv}/bin:$PATH"
# shellcheck comes from Debian's packages: install it when missing (as root).
if ! command -v shellcheck >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck) >/dev/null 2>&1 || true
fi
missing=()
command -v shellcheck >/dev/null || missing+=("shellcheck (apt-get install shellcheck)")
command -v moto_server >/dev/null || missing+=("moto_server (pip install 'moto[server]==5.2.1')")
command -v cfn-lint >/dev/null || missing+=("cfn-lint (pip install cfn-lint aws-sam-translator)")
python3 -c 'import yaml' 2>/dev/null || missing+=("python3 PyYAML")
if ((${#missing[@]})); then
  printf 'missing: %s\n' "${missing[@]}" >&2
  exit 1
fi
