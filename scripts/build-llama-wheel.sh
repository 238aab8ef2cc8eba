#!/usr/bin/env bash
# Build llama-cpp-python once into the git-ignored ./.wheelhouse (portable AVX2 build).
# A no-op when the wheel is already there. Install afterwards with:
#   .venv/bin/pip install --find-links .wheelhouse --only-binary llama-cpp-python \
#       llama-cpp-python==0.3.36
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="0.3.36"
PIP="${PIP:-.venv/bin/pip}"
[ -x "$PIP" ] || PIP="pip"
mkdir -p .wheelhouse
if ls .wheelhouse/llama_cpp_python-"${VERSION}"-*.whl >/dev/null 2>&1; then
    echo "llama-cpp-python ${VERSION} wheel already in .wheelhouse"
    exit 0
fi
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
export CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
"$PIP" wheel --no-deps --no-cache-dir -w .wheelhouse "llama-cpp-python==${VERSION}"
