#!/usr/bin/env bash
# The test command: set up a fresh machine, configure, build and run every
# test (GPU tests skip themselves where there is no device), then build the
# examples' consumer project against an installed copy of the package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export PATH="/usr/local/cuda/bin:$PATH"
jobs="${CONVKIT_JOBS:-$(nproc)}"
cmake --preset default
cmake --build --preset default -j "$jobs"
ctest --preset default -j "$jobs"
bash tools/consumer.sh
bash tools/python_test.sh
