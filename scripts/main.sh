#!/usr/bin/env bash
# The main job: install, then train the MNIST CNN example; prints the test accuracy and the run dir.
# Works offline on a fresh clone (MNIST is vendored inside the package).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/deepfuse train examples/mnist_cnn.yaml "$@"
