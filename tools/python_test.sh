#!/usr/bin/env bash
# The Python leg of the tests (called by tools/test.sh): installs the package
# into a virtual environment under the repository (.venv, ignored by git; the
# system Python is left alone) with the test dependencies -- NumPy, SciPy,
# pytest, Hypothesis, Dask (convkit.dask), and PyTorch unless CONVKIT_SKIP_TORCH=1; not CuPy, whose
# tests skip themselves -- and runs pytest on python/tests. `pip install
# ./python` compiles libconvkit again through scikit-build-core (the project's
# own CMake, the extension on, tests, benchmarks and examples off, sm_90 unless
# CONVKIT_CUDA_ARCHITECTURES says otherwise). pytest's exit code 5 (nothing
# collected) is a failure here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/cuda/bin:$PATH"
export CMAKE_BUILD_PARALLEL_LEVEL="${CONVKIT_JOBS:-$(nproc)}"
venv="${CONVKIT_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  "${CONVKIT_PYTHON:-python3}" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
# Build requirements in the environment itself (no isolated build env per
# run), so a rebuild after an edit reuses python/build incrementally.
"${pip[@]}" install -q "scikit-build-core>=0.10" "nanobind>=2.0" numpy "scipy>=1.8" "pytest>=7" "hypothesis>=6" \
  "dask[array]"
"${pip[@]}" install -q --no-build-isolation ./python
# PyTorch for python/tests/test_torch.py (convkit.torch: the custom ops, DDP
# over gloo, torch.compile), which skips itself without it. PyPI's wheel (the
# only registry CI reaches; it bundles the CUDA runtime, ~3 GB with its nvidia-*
# dependencies, about 2 minutes to install the first time, nothing once the
# venv has it) runs on CPU without a GPU. CONVKIT_SKIP_TORCH=1 leaves it out.
if [ "${CONVKIT_SKIP_TORCH:-0}" != 1 ]; then
  "${pip[@]}" install -q torch
fi
# pytest from the repository root, never `python -m pytest` from python/: the
# source tree's convkit/ (without the compiled extension) must not shadow the
# installed package.
rc=0
"$venv/bin/pytest" -q -p no:cacheprovider python/tests || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "python_test: pytest collected no tests" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  exit "$rc"
fi
"$venv/bin/python" -c "import convkit; convkit.info()"
