#!/usr/bin/env bash
# Runs checkov (static analysis of the Terraform) from its own virtualenv, .venv-checkov,
# which it creates on first use with a pinned checkov version.
#
#   scripts/checkov.sh                       # scan terraform/ and print a summary
#   scripts/checkov.sh -o json --compact ... # any further arguments go to checkov
#
# Exit status is checkov's: non-zero when a check fails.
set -euo pipefail

CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.venv-checkov"
PYTHON="${PYTHON:-python3}"

installed() { compgen -G "${VENV}/lib/python*/site-packages/checkov-${CHECKOV_VERSION}.dist-info" >/dev/null; }
if [[ ! -x "${VENV}/bin/checkov" ]] || ! installed; then
  echo "installing checkov ${CHECKOV_VERSION} into ${VENV}" >&2
  "${PYTHON}" -m venv "${VENV}"
  "${VENV}/bin/pip" install --quiet --disable-pip-version-check "checkov==${CHECKOV_VERSION}" >&2
fi

cd "${ROOT}"
if [[ $# -eq 0 ]]; then
  # Failed checks in full, then the passed/failed/skipped counts.
  set -- --directory terraform --framework terraform --compact --quiet
fi
# No network calls: no Prisma Cloud platform, no version check, no external module download.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
exec "${VENV}/bin/checkov" --skip-download "$@"
