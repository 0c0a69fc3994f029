#!/usr/bin/env bash
# Create .venv (once) and install deepfuse into it, editable, with the given extras.
# Usage: bash scripts/setup.sh [extras]      e.g. bash scripts/setup.sh dev
# torch is installed first and pinned to the CPU wheel available locally (torch==2.13.0); GPU
# users with their own torch>=2.4 keep theirs (pyproject only asks for torch>=2.4).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --disable-pip-version-check -q "$@"; }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  pip_install "torch==${TORCH_VERSION:-2.13.0}"
fi
target="."
[ -n "$extras" ] && target=".[${extras}]"
# --no-build-isolation: the venv's setuptools builds the package, nothing else is fetched.
pip_install --no-build-isolation -e "$target"
