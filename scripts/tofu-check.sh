#!/usr/bin/env bash
# Checks terraform/ with OpenTofu, without a registry and without AWS credentials:
#   1. tofu fmt -check -recursive terraform/
#   2. for each environment: init -backend=false, validate, plan (local backend), show -json,
#      in a throw-away copy (scripts/terraform-plan.ts --tofu; the AWS provider is the offline
#      schema shim, see docs/DEPLOY.md).
# OpenTofu comes from scripts/tofu-setup.sh --tofu-only (run first unless TOFU_CHECK_SKIP_SETUP=1).
#
# Usage: scripts/tofu-check.sh [ENV...]      (default: every <env>.tfvars of terraform/environments)
# Exit:  0 all passed, 1 a check failed, 2 no tofu.
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

if [[ "${TOFU_CHECK_SKIP_SETUP:-0}" != 1 ]]; then
  "$REPO_ROOT/scripts/tofu-setup.sh" --tofu-only || exit 2
  # shellcheck disable=SC1090
  . "$("$REPO_ROOT/scripts/tofu-setup.sh" --print-env)"
fi
command -v tofu >/dev/null || { echo "tofu is not on PATH (run scripts/tofu-setup.sh --tofu-only)" >&2; exit 2; }
tofu version | head -n1

failed=0
echo "==> tofu fmt -check -recursive terraform/"
if ! TF_CLI_CONFIG_FILE=/dev/null tofu fmt -check -recursive -diff terraform; then
  echo "(files listed above are not formatted: run 'tofu fmt -recursive terraform/')"
  failed=1
fi
echo "==> tofu init, validate, plan"
npx tsx scripts/terraform-plan.ts --tofu "$@" || failed=1

if (( failed )); then echo "tofu-check: FAILED"; exit 1; fi
echo "tofu-check: all passed"
