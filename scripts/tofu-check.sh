#!/usr/bin/env bash
# Static checks of terraform/ with OpenTofu, without a registry and without AWS credentials:
#   1. tofu fmt -check -recursive terraform/
#   2. for each environment (terraform/environments/dev, prod):
#        tofu init -backend=false   (hashicorp/aws from the filesystem mirror of tofu-setup.sh)
#        tofu validate
# Each environment is checked in a throw-away copy of terraform/ (so .terraform/ and the lock
# file never land in the work tree). Every step runs; exit 0 = all passed, 1 = a check failed,
# 2 = nothing to check / no tofu, 3 = fmt passed but init/validate could not run because
# tofu-setup could not install the hashicorp/aws provider (see docs/TOFU.md).
#
# Usage: scripts/tofu-check.sh [ENV...]      (default: every dir under terraform/environments)
# Env:   TOFU_CHECK_SKIP_SETUP=1  don't run scripts/tofu-setup.sh first (use tofu/TF_CLI_CONFIG_FILE as set)
#        TOFU_CHECK_KEEP=1        keep the temporary copy (its path is printed)
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TF_ROOT="$REPO_ROOT/terraform"
cd "$REPO_ROOT"

say() { printf '\n==> %s\n' "$*"; }

setup_incomplete=0
if [[ "${TOFU_CHECK_SKIP_SETUP:-0}" != 1 ]]; then
  say "tofu-setup (cached after the first run)"
  if ! "$REPO_ROOT/scripts/tofu-setup.sh"; then
    setup_incomplete=1
    echo "tofu-setup did not complete; continuing with what it installed (init/validate need the AWS provider)." >&2
  fi
  # shellcheck disable=SC1090
  . "$("$REPO_ROOT/scripts/tofu-setup.sh" --print-env)"
fi
command -v tofu >/dev/null || { echo "tofu is not on PATH (run scripts/tofu-setup.sh)" >&2; exit 2; }
[[ -d "$TF_ROOT" ]] || { echo "no terraform/ directory" >&2; exit 2; }
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
tofu version | head -n1

if (( $# )); then envs=("$@"); else
  envs=(); for d in "$TF_ROOT"/environments/*/; do [[ -d "$d" ]] && envs+=("$(basename "$d")"); done
fi
(( ${#envs[@]} )) || { echo "no environments under terraform/environments" >&2; exit 2; }

declare -a results=()
failed=0 blocked=0
record() {
  results+=("$(printf '%-28s %s' "$1" "$2")")
  case "$2" in ok|skipped*) ;; BLOCKED*) blocked=1 ;; *) failed=1 ;; esac
}

say "tofu fmt -check -recursive terraform/"
if out="$(tofu fmt -check -recursive -diff "$TF_ROOT" 2>&1)"; then
  record "fmt" ok
else
  printf '%s\n' "$out"
  echo "(files listed above are not formatted: run 'tofu fmt -recursive terraform/')"
  record "fmt" FAILED
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tofu-check.XXXXXX")"
if [[ "${TOFU_CHECK_KEEP:-0}" == 1 ]]; then echo "temporary copy kept: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
# A copy of terraform/ without any local state/.terraform, so module paths (../../modules) resolve.
tar -C "$REPO_ROOT" --exclude='.terraform' --exclude='*.tfstate*' --exclude='.terraform.lock.hcl' -cf - terraform | tar -C "$WORK" -xf -
ln -s "$REPO_ROOT/dist" "$WORK/dist"   # paths like ../../../dist/x.zip resolve as in the repo

for env in "${envs[@]}"; do
  dir="$WORK/terraform/environments/$env"
  if [[ ! -d "$dir" ]]; then record "$env" "FAILED (no terraform/environments/$env)"; continue; fi
  say "[$env] tofu init -backend=false"
  if ! tofu -chdir="$dir" init -backend=false -input=false -no-color 2>&1 | tee "$WORK/init-$env.log"; then
    if (( setup_incomplete )) && grep -q 'hashicorp/aws was not found in any of the' "$WORK/init-$env.log" \
       && grep -q '^- event_flows\|^Initializing provider plugins' "$WORK/init-$env.log"; then
      # The modules loaded (so every .tf file parsed); only the provider is missing.
      record "$env: init" "BLOCKED (modules parsed; no hashicorp/aws in the mirror: see tofu-setup above)"
    else
      record "$env: init" FAILED
    fi
    record "$env: validate" "skipped (init failed)"; continue
  fi
  record "$env: init" ok
  say "[$env] tofu validate"
  if tofu -chdir="$dir" validate -no-color; then record "$env: validate" ok; else record "$env: validate" FAILED; fi
done

say "summary"
printf '  %s\n' "${results[@]}"
if (( failed )); then echo "tofu-check: FAILED"; exit 1; fi
if (( blocked )); then echo "tofu-check: BLOCKED: fmt passed, but init/validate need the hashicorp/aws provider (exit 3)"; exit 3; fi
echo "tofu-check: all passed"
