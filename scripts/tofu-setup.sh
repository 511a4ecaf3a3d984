#!/usr/bin/env bash
# Installs the Terraform toolchain for Event Flows without a Terraform registry:
#   1. OpenTofu (the `tofu` CLI), built with Go from the Go module proxy;
#   2. the Terraform AWS provider (hashicorp/aws 6.x), built the same way;
#   3. a filesystem mirror + CLI config (TF_CLI_CONFIG_FILE) so `tofu init` finds the
#      provider without reaching registry.opentofu.org.
# Everything is built into a cache OUTSIDE the repository (default ~/.cache/event-flows/tofu);
# nothing fetched or built is ever written into the work tree. A second run only checks the
# cache and takes seconds. See docs/TOFU.md.
#
# Usage: scripts/tofu-setup.sh [--tofu-only]
#   --tofu-only   build/check OpenTofu and the CLI config only, skip the AWS provider
# Afterwards:   source "$(scripts/tofu-setup.sh --print-env)"   (or: . ~/.cache/event-flows/tofu/env.sh)
#
# Environment (all optional):
#   EVENT_FLOWS_TOFU_CACHE   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/event-flows/tofu)
#   TOFU_VERSION             OpenTofu release to build (default below)
#   AWS_PROVIDER_VERSION     hashicorp/aws release to install (default: lowest release allowed by
#                            the `>= 6.N, < 7.0` constraint in terraform/environments/versions.tf)
#   AWS_PROVIDER_GO_VERSION  the Go module version that holds that release (see below)
#   AWS_PROVIDER_SRC_DIR     build the provider from this local source tree instead of the proxy
#   AWS_PROVIDER_BINARY      copy this ready provider executable into the mirror instead of building
#   TOFU_BUILD_JOBS          go build -p N and GOMAXPROCS (default: number of cores, at most 2)
set -euo pipefail

# ---- the versions, in one place -------------------------------------------------------------
# OpenTofu: the newest stable release the Go module proxy served when this was written
# (`go list -m -versions github.com/opentofu/opentofu`). Needs Go >= 1.26.6.
TOFU_VERSION="${TOFU_VERSION:-1.12.6}"
# hashicorp/aws: derived from the constraint in terraform/ unless set (see provider_version()).
AWS_PROVIDER_VERSION="${AWS_PROVIDER_VERSION:-}"
# The provider's module path has no /v6 suffix, so the Go toolchain cannot name its v6 tags as
# `@v6.x.y` (a v6 tag of a module without /v6 is no valid version of it). Such a release can only
# be named by the commit of its tag, as a pseudo-version v1.60.1-0.<UTC commit time>-<12 hex>
# (`go list -m github.com/hashicorp/terraform-provider-aws@<commit>` prints it). Known mappings:
declare -A AWS_PROVIDER_GO_VERSIONS=(
  # [6.40.0]="v1.60.1-0.YYYYMMDDHHMMSS-xxxxxxxxxxxx"   <- fill in once the proxy serves one
)
# ----------------------------------------------------------------------------------------------

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${EVENT_FLOWS_TOFU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-flows/tofu}"
BIN="$CACHE/bin"
MIRROR="$CACHE/mirror"
LOGS="$CACHE/logs"
SRC="$CACHE/src"
CLI_CONFIG="$CACHE/tofurc"
ENV_FILE="$CACHE/env.sh"
TOFU_MODULE=github.com/opentofu/opentofu
AWS_MODULE=github.com/hashicorp/terraform-provider-aws

log() { printf '[tofu-setup] %s\n' "$*" >&2; }
die() { printf '[tofu-setup] ERROR: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  --print-env) printf '%s\n' "$ENV_FILE"; exit 0 ;;
  --tofu-only) TOFU_ONLY=1 ;;
  "") TOFU_ONLY=0 ;;
  -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

case "$REPO_ROOT/" in "$CACHE"/*) die "the cache ($CACHE) must be outside the repository";; esac
case "$CACHE/" in "$REPO_ROOT"/*) die "the cache ($CACHE) must be outside the repository ($REPO_ROOT)";; esac

command -v go >/dev/null || die "go is not installed (OpenTofu $TOFU_VERSION needs Go >= 1.26.6)"
mkdir -p "$BIN" "$MIRROR" "$LOGS" "$SRC"

cores="$(nproc 2>/dev/null || echo 2)"
JOBS="${TOFU_BUILD_JOBS:-$(( cores < 2 ? cores : 2 ))}"
export GOFLAGS="-trimpath ${GOFLAGS:-}" GOMAXPROCS="$JOBS" CGO_ENABLED=0
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

goos="$(go env GOOS)"; goarch="$(go env GOARCH)"; PLATFORM="${goos}_${goarch}"

# Sums the resident memory of a process tree every 2 s; prints the peak in MiB when it ends.
sample_tree_rss() {
  local root="$1" out="$2" peak=0 now
  while kill -0 "$root" 2>/dev/null; do
    now="$(ps -e -o pid=,ppid=,rss= | awk -v r="$root" '
      { p[$1]=$2; m[$1]=$3 }
      END { for (i in p) { j=i; while (j in p && j!=r && j>1) j=p[j]; if (j==r) s+=m[i] } print int(s/1024) }')"
    (( now > peak )) && peak="$now"
    sleep 2
  done
  echo "$peak" >"$out"
}

# build NAME DIR OUTPUT LDFLAGS PACKAGE: go build with /usr/bin/time -v; figures into $LOGS/NAME.*
timed_build() {
  local name="$1" dir="$2" out="$3" ldflags="$4" pkg="$5" timer=()
  [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -v -o "$LOGS/$name.time")
  log "building $name with Go $(go env GOVERSION), -p $JOBS, GOMAXPROCS=$JOBS (log: $LOGS/$name.log)"
  local start=$SECONDS
  ( cd "$dir" && exec "${timer[@]}" go build -p "$JOBS" -ldflags "$ldflags" -o "$out.tmp" "$pkg" ) >"$LOGS/$name.log" 2>&1 &
  local pid=$!
  sample_tree_rss "$pid" "$LOGS/$name.tree-peak-mib" &
  local sampler=$!
  local rc=0; wait "$pid" || rc=$?
  wait "$sampler" 2>/dev/null || true
  if (( rc != 0 )); then tail -n 40 "$LOGS/$name.log" >&2; die "building $name failed (exit $rc); full log: $LOGS/$name.log"; fi
  mv -f "$out.tmp" "$out"
  local wall=$(( SECONDS - start )) maxrss="?"
  [[ -f "$LOGS/$name.time" ]] && maxrss="$(awk -F': ' '/Maximum resident set size/ {printf "%d", $2/1024}' "$LOGS/$name.time")"
  printf 'wall_seconds=%s largest_process_max_rss_mib=%s process_tree_peak_rss_mib=%s jobs=%s go=%s\n' \
    "$wall" "$maxrss" "$(cat "$LOGS/$name.tree-peak-mib" 2>/dev/null || echo '?')" "$JOBS" "$(go env GOVERSION)" \
    | tee "$LOGS/$name.figures" >&2
}

# download_module MODULE@VERSION -> prints the module's (read-only) directory in GOMODCACHE.
download_module() {
  local json
  if ! json="$(cd "$SRC" && GOFLAGS= go mod download -json "$1" 2>"$LOGS/download.err")"; then
    cat "$LOGS/download.err" >&2; printf '%s\n' "$json" | grep -E '"Error"' >&2 || true
    return 1
  fi
  printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# Copies a read-only module directory to a writable build directory (go install pkg@version
# refuses modules whose go.mod has replace directives, as OpenTofu's and the provider's do).
writable_copy() {
  local from="$1" to="$2"
  rm -rf "$to"; mkdir -p "$(dirname "$to")"
  cp -R "$from" "$to"; chmod -R u+w "$to"
}

# ---- OpenTofu ------------------------------------------------------------------------------
TOFU_BIN="$BIN/tofu-$TOFU_VERSION"
if [[ -x "$TOFU_BIN" ]] && TF_CLI_CONFIG_FILE=/dev/null "$TOFU_BIN" version 2>/dev/null | grep -qx "OpenTofu v$TOFU_VERSION"; then
  log "OpenTofu $TOFU_VERSION: cached ($TOFU_BIN)"
else
  log "OpenTofu $TOFU_VERSION: fetching $TOFU_MODULE@v$TOFU_VERSION from the Go module proxy"
  dir="$(download_module "$TOFU_MODULE@v$TOFU_VERSION")" || die "the Go module proxy did not serve $TOFU_MODULE@v$TOFU_VERSION"
  writable_copy "$dir" "$SRC/opentofu-$TOFU_VERSION"
  timed_build "tofu-$TOFU_VERSION" "$SRC/opentofu-$TOFU_VERSION" "$TOFU_BIN" \
    "-s -w -X $TOFU_MODULE/version.dev=no" ./cmd/tofu
  rm -rf "$SRC/opentofu-$TOFU_VERSION"
  TF_CLI_CONFIG_FILE=/dev/null "$TOFU_BIN" version | grep -qx "OpenTofu v$TOFU_VERSION" || die "the built tofu does not report v$TOFU_VERSION"
fi
ln -sfn "tofu-$TOFU_VERSION" "$BIN/tofu"

# ---- the CLI config + env file (written every run; cheap) -------------------------------------
cat >"$CLI_CONFIG" <<EOF
# Written by scripts/tofu-setup.sh. hashicorp/aws comes from the local filesystem mirror only;
# any other provider is fetched from its registry as usual.
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.opentofu.org/hashicorp/aws", "registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.opentofu.org/hashicorp/aws", "registry.terraform.io/hashicorp/aws"]
  }
}
EOF
cat >"$ENV_FILE" <<EOF
# Written by scripts/tofu-setup.sh: source it to use the cached OpenTofu and provider mirror.
export PATH="$BIN:\$PATH"
export TF_CLI_CONFIG_FILE="$CLI_CONFIG"
export TF_IN_AUTOMATION=1
export CHECKPOINT_DISABLE=1
EOF

if [[ "$TOFU_ONLY" == 1 ]]; then
  log "done (--tofu-only). OpenTofu: $BIN/tofu; CLI config: $CLI_CONFIG; env: . $ENV_FILE"
  exit 0
fi

# ---- hashicorp/aws -------------------------------------------------------------------------
# The lowest release allowed by the `~> 6.N` (or `~> 6.N.P`) constraint in terraform/.
provider_version() {
  local files constraint
  # The root bounds the range; the modules only state minimums.
  files="$REPO_ROOT/terraform/environments/versions.tf"
  [[ -f "$files" ]] || die "no terraform/environments/versions.tf: set AWS_PROVIDER_VERSION"
  constraint="$(awk '/hashicorp\/aws/ {f=1} f && /version[[:space:]]*=/ { gsub(/.*=[[:space:]]*"|".*/, ""); print; f=0 }' $files | sort -u)"
  [[ "$(printf '%s\n' "$constraint" | wc -l)" == 1 ]] || die "terraform/environments/versions.tf pins hashicorp/aws more than once: $(echo $constraint)"
  [[ "$constraint" =~ ^\>=[[:space:]]*([0-9]+)\.([0-9]+)(\.([0-9]+))? ]] \
    || die "cannot derive a provider version from the constraint '$constraint': set AWS_PROVIDER_VERSION"
  printf '%s.%s.%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[4]:-0}"
}

[[ -n "$AWS_PROVIDER_VERSION" ]] || AWS_PROVIDER_VERSION="$(provider_version)"
AWS_DIR="$MIRROR/registry.opentofu.org/hashicorp/aws/$AWS_PROVIDER_VERSION/$PLATFORM"
AWS_BIN="$AWS_DIR/terraform-provider-aws_v$AWS_PROVIDER_VERSION"
rmdir "$AWS_DIR" "$(dirname "$AWS_DIR")" 2>/dev/null || true   # no empty version dir from a failed run
# tofu also accepts the mirror under registry.terraform.io (for configs that spell the source so).
mkdir -p "$MIRROR/registry.terraform.io/hashicorp"
ln -sfn "../../registry.opentofu.org/hashicorp/aws" "$MIRROR/registry.terraform.io/hashicorp/aws"

if [[ -x "$AWS_BIN" && -f "$AWS_BIN.ok" ]]; then
  log "hashicorp/aws $AWS_PROVIDER_VERSION: cached ($AWS_BIN)"
elif [[ -n "${AWS_PROVIDER_BINARY:-}" ]]; then
  [[ -x "$AWS_PROVIDER_BINARY" ]] || die "AWS_PROVIDER_BINARY=$AWS_PROVIDER_BINARY is not an executable"
  mkdir -p "$AWS_DIR"; install -m 0755 "$AWS_PROVIDER_BINARY" "$AWS_BIN" && touch "$AWS_BIN.ok"
  log "hashicorp/aws $AWS_PROVIDER_VERSION: copied from $AWS_PROVIDER_BINARY"
else
  if [[ -n "${AWS_PROVIDER_SRC_DIR:-}" ]]; then
    [[ -f "$AWS_PROVIDER_SRC_DIR/go.mod" ]] || die "AWS_PROVIDER_SRC_DIR=$AWS_PROVIDER_SRC_DIR has no go.mod"
    src="$AWS_PROVIDER_SRC_DIR"
    log "hashicorp/aws $AWS_PROVIDER_VERSION: building from $src"
  else
    gover="${AWS_PROVIDER_GO_VERSION:-${AWS_PROVIDER_GO_VERSIONS[$AWS_PROVIDER_VERSION]:-}}"
    tried=()
    dir=""
    for v in $gover "v$AWS_PROVIDER_VERSION"; do
      tried+=("$AWS_MODULE@$v")
      log "hashicorp/aws $AWS_PROVIDER_VERSION: asking the Go module proxy for $AWS_MODULE@$v"
      if dir="$(download_module "$AWS_MODULE@$v")" && [[ -n "$dir" ]]; then break; fi
      dir=""
    done
    if [[ -z "$dir" ]]; then
      die "the Go module proxy served none of: ${tried[*]}.
  The provider's v6 releases are tags of a module without a /v6 suffix, so they can only be fetched
  as the pseudo-version of the tag's commit (v1.60.1-0.<UTC time>-<12 hex>). Set
  AWS_PROVIDER_GO_VERSION to one the proxy serves, or point AWS_PROVIDER_SRC_DIR at a source tree
  of release v$AWS_PROVIDER_VERSION, or AWS_PROVIDER_BINARY at a released provider executable.
  OpenTofu itself is ready: $BIN/tofu (scripts/tofu-check.sh can still run its fmt step)."
    fi
    writable_copy "$dir" "$SRC/terraform-provider-aws-$AWS_PROVIDER_VERSION"
    src="$SRC/terraform-provider-aws-$AWS_PROVIDER_VERSION"
  fi
  mkdir -p "$AWS_DIR"
  timed_build "terraform-provider-aws-$AWS_PROVIDER_VERSION" "$src" "$AWS_BIN" \
    "-s -w -X $AWS_MODULE/version.ProviderVersion=$AWS_PROVIDER_VERSION" .
  [[ -z "${AWS_PROVIDER_SRC_DIR:-}" ]] && rm -rf "$SRC/terraform-provider-aws-$AWS_PROVIDER_VERSION"
  touch "$AWS_BIN.ok"
fi

log "done. OpenTofu $TOFU_VERSION: $BIN/tofu; hashicorp/aws $AWS_PROVIDER_VERSION: $AWS_BIN"
log "use it with: . $ENV_FILE   (sets PATH and TF_CLI_CONFIG_FILE=$CLI_CONFIG)"
