#!/usr/bin/env bash
# govulncheck against a local copy of the Go vulnerability database.
#
# vuln.go.dev is not reachable from our machines or CI, but the database's
# source is published as a Go module (golang.org/x/vulndb), so it comes
# through the module proxy like any other dependency. This script:
#   1. fetches golang.org/x/vulndb@$VULNDB_VERSION with `go mod download`;
#   2. turns its data/osv/GO-*.json into a v1 database (index/db.json,
#      index/modules.json, index/vulns.json, ID/<id>.json) in build/vulndb,
#      using the module's own cmd/indexdb; skipped when build/vulndb was
#      already built from the same version;
#   3. runs govulncheck@$GOVULNCHECK_VERSION -db file://.../build/vulndb ./...
#      and exits with its code (0 clean, 3 vulnerabilities found, else error).
# Needs go plus sed, grep, find and gzip; only the Go module proxy is contacted.
#
# Usage: infra/scripts/vulncheck.sh [packages...]   (default: ./...)
# To update the database, bump VULNDB_VERSION to a newer pseudo-version
# (`go list -m -json golang.org/x/vulndb@master` prints the latest).
set -euo pipefail

VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
GOVULNCHECK_VERSION=v1.9.0

GO=${GO:-go}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
db="$root/build/vulndb"
stamp="$db/.built-from"
log() { printf 'vulncheck: %s\n' "$*" >&2; }

# The tools are built in their own modules; keep this repo's settings
# (a go.work, -mod=vendor, ...) out of those builds.
tool_env=(env GOWORK=off GOFLAGS=-mod=mod)

# 1. The database module. Run outside this module so that go.mod/go.sum
#    are not touched.
vulndb_dir() {
  local out dir
  out=$(cd / && "${tool_env[@]}" "$GO" mod download -json "golang.org/x/vulndb@$VULNDB_VERSION") || {
    printf '%s\n' "$out" >&2
    return 1
  }
  dir=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [[ -z "$dir" || ! -d "$dir/data/osv" ]]; then
    log "no data/osv in golang.org/x/vulndb@$VULNDB_VERSION (${dir:-no Dir in go mod download output})"
    return 1
  fi
  printf '%s\n' "$dir"
}

# 2. Build build/vulndb unless it is already built from this version.
if [[ -f "$stamp" && "$(head -n1 "$stamp")" == "golang.org/x/vulndb@$VULNDB_VERSION" \
      && -f "$db/index/db.json" && -f "$db/index/modules.json" ]]; then
  log "reusing $db (already built from golang.org/x/vulndb@$VULNDB_VERSION)"
else
  start=$SECONDS
  src=$(vulndb_dir)
  log "building $db from $src/data/osv"
  tmp="$db.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$db")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$src" && "${tool_env[@]}" "$GO" run ./cmd/indexdb -vulns data/osv -out "$tmp")

  # The OSV files in the repository carry a zero "modified" time (the real
  # one is filled in from git history when vuln.go.dev is published), so
  # indexdb writes 0001-01-01 into index/db.json, which govulncheck shows as
  # the database's date. Use the commit time encoded in the pinned
  # pseudo-version instead (vYYYYMMDDhhmmss), so the date says which data
  # this is. govulncheck uses this field for display only.
  if grep -q '"modified":"0001-01-01T00:00:00Z"' "$tmp/index/db.json"; then
    ts=${VULNDB_VERSION#v0.0.0-}
    ts=${ts%%-*}
    if [[ "$ts" =~ ^[0-9]{14}$ ]]; then
      printf '{"modified":"%s-%s-%sT%s:%s:%sZ"}' "${ts:0:4}" "${ts:4:2}" "${ts:6:2}" \
        "${ts:8:2}" "${ts:10:2}" "${ts:12:2}" >"$tmp/index/db.json"
      gzip -9 -n -c "$tmp/index/db.json" >"$tmp/index/db.json.gz"
    fi
  fi

  src_count=$(find "$src/data/osv" -maxdepth 1 -name 'GO-*.json' | wc -l)
  built_count=$(find "$tmp/ID" -maxdepth 1 -name '*.json' | wc -l)
  if [[ ! -s "$tmp/index/modules.json" || "$built_count" -ne "$src_count" || "$built_count" -eq 0 ]]; then
    log "database build looks wrong: $built_count entries in ID/, $src_count in data/osv"
    exit 1
  fi
  printf 'golang.org/x/vulndb@%s\n%s\n' "$VULNDB_VERSION" "$built_count" >"$tmp/.built-from"
  rm -rf "$db"
  mv "$tmp" "$db"
  trap - EXIT
  log "built $db in $((SECONDS - start))s"
fi

entries=$(find "$db/ID" -maxdepth 1 -name '*.json' | wc -l)
modified=$(sed -n 's/.*"modified":"\([^"]*\)".*/\1/p' "$db/index/db.json")
echo "vulncheck: DB golang.org/x/vulndb@$VULNDB_VERSION (modified $modified), $entries OSV entries, file://$db"

# 3. Scan. `go run tool@version` would turn govulncheck's exit code 3
#    (vulnerabilities found) into 1, so install the pinned version into
#    build/tools and run that binary. -show version prints the DB location
#    and date that govulncheck itself read.
tools="$root/build/tools/govulncheck@$GOVULNCHECK_VERSION"
(cd / && "${tool_env[@]}" GOBIN="$tools" "$GO" install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION")
(($#)) || set -- ./...
set +e
"$tools/govulncheck" -show version -db "file://$db" "$@"
rc=$?
set -e
case $rc in
  0) echo "vulncheck: no vulnerabilities found (govulncheck exit 0)" ;;
  3) echo "vulncheck: vulnerabilities found (govulncheck exit 3)" ;;
  *) echo "vulncheck: govulncheck failed (exit $rc)" ;;
esac
exit $rc
