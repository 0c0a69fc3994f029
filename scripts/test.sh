#!/usr/bin/env bash
# Install the dev extras, lint, and run the test suite (slow tests excluded; add -m slow for them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# Real datasets beside the repo (CI has ../shared); the tests skip what is missing and say so.
if [ -z "${DEEPFUSE_DATA_DIR:-}" ] && [ -d ../shared/datasets ]; then
  export DEEPFUSE_DATA_DIR="$(cd ../shared/datasets && pwd)"
fi
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
# The architecture contracts in pyproject.toml (layers, no cycles, torch-free run/config/_utils).
.venv/bin/lint-imports
# The docstring examples first (they are documentation that must stay true), then the suite.
.venv/bin/python -m pytest -q -p no:cacheprovider --doctest-modules src/deepfuse
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
