#!/usr/bin/env bash
# Applies a Terraform environment (default: dev) to the local AWS emulator (moto server), the way
# `tflocal` does for LocalStack: in a throw-away copy of terraform/ it adds an override file
# (_local_override.tf) that points every AWS service the project uses at the emulator, uses fake
# credentials, skips the credential/account/metadata look-ups and switches the backend to local.
# Nothing is written into the work tree except dist/ (by `npm run build`, when dist/*.zip is missing).
#
# Usage: scripts/tofu-apply-local.sh [options] [-- extra `tofu apply` args, e.g. -target=module.x]
#   --env NAME       environment: terraform/environments/NAME.tfvars (default dev)
#   --port N         emulator port (default: a free port; with --endpoint, none is started)
#   --endpoint URL   use an emulator that is already running (e.g. http://127.0.0.1:5000)
#   --region R       override the region of every aws provider configuration (default: keep
#                    the environment's; AWS_REGION=us-east-1 where it sets none)
#   --plan-only      stop after `tofu plan`
#   --destroy        `tofu destroy` after the apply (checks that destroy works too)
#   --keep           keep the emulator and the temporary copy when done (paths are printed)
# Needs scripts/tofu-setup.sh (run automatically; cached) and dist/*.zip (npm run build).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
ENV_NAME=dev PORT="" ENDPOINT="" REGION="" PLAN_ONLY=0 DESTROY=0 KEEP=0
EXTRA=()
while (( $# )); do
  case "$1" in
    --env) ENV_NAME="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --endpoint) ENDPOINT="$2"; shift 2 ;;
    --region) REGION="$2"; shift 2 ;;
    --plan-only) PLAN_ONLY=1; shift ;;
    --destroy) DESTROY=1; shift ;;
    --keep) KEEP=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'tofu-apply-local: ERROR: %s\n' "$*" >&2; exit 1; }

VAR_FILE="$ENV_NAME.tfvars"
[[ -f "$REPO_ROOT/terraform/environments/$VAR_FILE" ]] || die "no terraform/environments/$VAR_FILE"

say "tofu-setup (cached after the first run)"
"$REPO_ROOT/scripts/tofu-setup.sh"
# shellcheck disable=SC1090
. "$("$REPO_ROOT/scripts/tofu-setup.sh" --print-env)"

# ---- the Lambda zips ---------------------------------------------------------------------------
if ! compgen -G "dist/*.zip" >/dev/null; then
  if [[ "$(npm pkg get scripts.build 2>/dev/null)" != "{}" && -n "$(npm pkg get scripts.build 2>/dev/null)" ]]; then
    say "npm run build (dist/*.zip is missing)"
    npm run build
  fi
fi
compgen -G "dist/*.zip" >/dev/null || die "dist/*.zip does not exist and there is no working 'npm run build'"
echo "zips: $(cd dist && ls *.zip | tr '\n' ' ')"

# ---- the emulator ------------------------------------------------------------------------------
MOTO_PID=""
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tofu-apply-local.XXXXXX")"
cleanup() {
  local rc=$?
  if [[ -n "$MOTO_PID" ]]; then
    if (( KEEP )); then echo "emulator left running: pid $MOTO_PID at $ENDPOINT (stop it with: kill $MOTO_PID)"
    else kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
  fi
  if (( KEEP )); then echo "temporary copy kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

if [[ -z "$ENDPOINT" ]]; then
  MOTO="$REPO_ROOT/.venv/bin/moto_server"
  if [[ ! -x "$MOTO" ]]; then
    say "installing the emulator into .venv (scripts/local/python-env.ts)"
    npx --no-install tsx -e "import('./scripts/local/python-env.ts').then((m) => m.ensurePythonEnv())"
  fi
  [[ -x "$MOTO" ]] || die "$MOTO is missing"
  [[ -n "$PORT" ]] || PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
  ENDPOINT="http://127.0.0.1:$PORT"
  say "starting moto server on $ENDPOINT (log: $WORK/moto.log)"
  MOTO_PORT="$PORT" "$MOTO" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$ENDPOINT/moto-api/" 2>/dev/null && break
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$WORK/moto.log" >&2; die "moto server exited"; }
    sleep 0.1
  done
  curl -fsS -o /dev/null "$ENDPOINT/moto-api/" || die "moto server did not answer at $ENDPOINT"
fi
case "$ENDPOINT" in http://127.*|http://localhost*|http://\[::1\]*) ;; *) die "refusing a non-loopback endpoint: $ENDPOINT";; esac

# ---- a copy of terraform/ with the override -----------------------------------------------------
tar -C "$REPO_ROOT" --exclude='.terraform' --exclude='*.tfstate*' --exclude='.terraform.lock.hcl' -cf - terraform | tar -C "$WORK" -xf -
ln -s "$REPO_ROOT/dist" "$WORK/dist"   # paths like ../../dist/x.zip resolve as in the repo
DIR="$WORK/terraform/environments"

# Every service the project uses (and a few it may): endpoint keys of the AWS provider.
SERVICES=(apigateway apigatewayv2 cloudformation cloudwatch cognitoidp dynamodb events iam kms lambda
  logs pipes s3 scheduler secretsmanager sfn sns sqs ssm sts xray)
# One override per provider configuration: the default one and every alias in the environment.
mapfile -t ALIASES < <(awk '
  /^[[:space:]]*provider[[:space:]]+"aws"[[:space:]]*[{]/ { p = 1; d = 0 }
  p {
    d += gsub(/[{]/, "{") - gsub(/[}]/, "}")
    if ($0 ~ /^[[:space:]]*alias[[:space:]]*=/) { a = $0; sub(/^[^"]*"/, "", a); sub(/".*/, "", a); print a }
    if (d <= 0) p = 0
  }' "$DIR"/*.tf /dev/null | sort -u)
{
  echo "# Generated by scripts/tofu-apply-local.sh for the local AWS emulator at $ENDPOINT."
  echo 'terraform {'
  echo '  backend "local" {'
  echo "    path = \"$WORK/terraform.tfstate\""
  echo '  }'
  echo '}'
  for alias in "" "${ALIASES[@]}"; do
    echo
    echo 'provider "aws" {'
    [[ -n "$alias" ]] && echo "  alias                       = \"$alias\""
    [[ -n "$REGION" ]] && echo "  region                      = \"$REGION\""
    echo '  access_key                  = "test"'
    echo '  secret_key                  = "test"'
    echo '  skip_credentials_validation = true'
    echo '  skip_metadata_api_check     = true'
    echo '  skip_requesting_account_id  = true'
    echo '  skip_region_validation      = true'
    echo '  s3_use_path_style           = true'
    echo '  endpoints {'
    for s in "${SERVICES[@]}"; do printf '    %-14s = "%s"\n' "$s" "$ENDPOINT"; done
    echo '  }'
    echo '}'
  done
} >"$DIR/_local_override.tf"
echo "override: $DIR/_local_override.tf (provider configurations: default ${ALIASES[*]})"

# No real credentials or profiles may leak in; AWS_ENDPOINT_URL covers any service not listed.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${REGION:-us-east-1}" AWS_DEFAULT_REGION="${REGION:-us-east-1}"
export AWS_ENDPOINT_URL="$ENDPOINT" AWS_EC2_METADATA_DISABLED=true
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

say "[$ENV_NAME] tofu init"
tofu -chdir="$DIR" init -input=false -no-color -reconfigure
say "[$ENV_NAME] tofu plan"
tofu -chdir="$DIR" plan -input=false -no-color -var-file="$VAR_FILE" -out="$WORK/plan" "${EXTRA[@]}"
(( PLAN_ONLY )) && { echo "tofu-apply-local: plan OK (--plan-only)"; exit 0; }

say "[$ENV_NAME] tofu apply"
status=0
tofu -chdir="$DIR" apply -input=false -no-color -auto-approve "$WORK/plan" 2>&1 | tee "$WORK/apply.log" || status=$?
say "[$ENV_NAME] resources in the state"
tofu -chdir="$DIR" state list -no-color 2>/dev/null | tee "$WORK/state.txt" || true
if (( status != 0 )); then
  say "resources the emulator did not take (from the errors above)"
  grep -E '^\s*with (module\.|aws_)' "$WORK/apply.log" | sed 's/^\s*with /  /; s/,$//' | sort -u || true
  echo "tofu-apply-local: apply FAILED (exit $status); keep what works with: scripts/tofu-apply-local.sh -- -target=ADDRESS ..."
  exit "$status"
fi
tofu -chdir="$DIR" output -no-color || true
if (( DESTROY )); then
  say "[$ENV_NAME] tofu destroy"
  tofu -chdir="$DIR" destroy -input=false -no-color -auto-approve -var-file="$VAR_FILE" "${EXTRA[@]}"
fi
echo "tofu-apply-local: apply OK ($(wc -l <"$WORK/state.txt") resources in the emulator at $ENDPOINT)"
