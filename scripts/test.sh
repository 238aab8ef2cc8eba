#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine and runs all of it:
# unit, integration (real PostgreSQL, Redis, Celery worker — started by the tests from
# the installed binaries), and browser end-to-end tests (Debian's chromium).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v chromium >/dev/null || apt_packages+=(chromium)
command -v redis-server >/dev/null || apt_packages+=(redis-server)
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  || apt_packages+=(postgresql)
command -v npm >/dev/null || apt_packages+=(nodejs npm)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${apt_packages[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

scripts/setup.sh --dev

echo "==> frontend checks (svelte-check, vitest)"
(cd frontend && npx --no-install svelte-check --tsconfig ./tsconfig.json --fail-on-warnings \
  && npx --no-install vitest run)

echo "==> pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
