#!/usr/bin/env bash
# Builds the web UI (frontend/) into kernel/static/app, where the kernel serves it.
# Idempotent and quick when nothing changed, so the run and test commands call it
# every time: `npm ci` only when package-lock.json changed since the last install,
# `vite build` only when a source file changed since the last build (stamp files in
# frontend/node_modules/). Needs Node.js 20.19+ and npm.
# Usage: scripts/build-frontend.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/../frontend"

out=../kernel/static/app
lock_stamp=node_modules/.notewell-lock.sha256
build_stamp=node_modules/.notewell-build.sha256
force=0
[ "${1:-}" = "--force" ] && force=1

if ! command -v npm >/dev/null 2>&1; then
  if [ -f "$out/index.html" ]; then
    echo "==> npm not found; serving the web UI built earlier (it may be stale)" >&2
    exit 0
  fi
  echo "The web UI needs Node.js 20.19+ and npm to build (Debian: apt-get install nodejs npm)." >&2
  echo "Notewell still runs without it; / then says how to build the UI." >&2
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "The web UI needs Node.js 20.19 or newer (found $(node --version))." >&2
  exit 1
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$force" = 1 ] || [ ! -d node_modules ] || [ "$(cat "$lock_stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "==> installing the frontend's packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$lock_stamp"
fi

# every file that goes into the build, by content (node_modules is covered by the lock)
source_sum=$(
  find . -path ./node_modules -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum \
    | sha256sum | cut -d' ' -f1
)
if [ "$force" = 1 ] || [ ! -f "$out/index.html" ] || [ "$(cat "$build_stamp" 2>/dev/null)" != "$source_sum" ]; then
  echo "==> building the web UI (vite build)"
  npx --no-install vite build --logLevel warn
  echo "$source_sum" > "$build_stamp"
else
  echo "==> web UI is up to date"
fi
