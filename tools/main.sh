#!/usr/bin/env bash
# The main command: set up, build, then run the benchmark when a CUDA device
# is present; without one, say so plainly and run the CPU demo (smoothing a
# noisy temperature series with a causal exponential kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export PATH="/usr/local/cuda/bin:$PATH"
cmake --preset default >/dev/null
cmake --build --preset default -j "${CONVKIT_JOBS:-$(nproc)}"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && [ -x build/bench/convkit-bench ]; then
  exec build/bench/convkit-bench "$@"
fi
echo "No CUDA device here: running the CPU demo instead of the GPU benchmark."
exec build/examples/convkit_smooth_temperature
