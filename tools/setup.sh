#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test convkit:
# compiler, CMake, ninja and GoogleTest from Debian's packages, and clang with
# its runtime libraries (libFuzzer, the sanitizers) for the fuzz targets.
# Idempotent: packages already present are not touched. The CUDA toolkit is
# expected at /usr/local/cuda (or on PATH); it is not installed here.
set -euo pipefail
need=()
for pkg in g++ cmake ninja-build libgtest-dev python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# clang: Debian's unversioned package or a versioned one already present
# (clang-14 on bookworm) will do; the runtime libraries likewise.
if ! command -v clang++ >/dev/null 2>&1; then
  need+=(clang)
fi
if ! dpkg -s libclang-rt-dev >/dev/null 2>&1 && ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/*/libclang_rt.fuzzer*.a" >/dev/null; then
  need+=(libclang-rt-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "setup: missing packages (${need[*]}) and neither root nor sudo to install them" >&2
      exit 1
    fi
    sudo_cmd="sudo"
  fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: the CUDA toolkit (nvcc) is required; install it to /usr/local/cuda" >&2
  exit 1
fi

# --- Python package (tools/python_test.sh): a python3 that can make a virtual
# environment (Debian's python3-venv) and build an extension (its headers).
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1 ||
   ! python3 -c "import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" >/dev/null 2>&1; then
  echo "setup: installing python3-venv python3-dev"
  if [ "$(id -u)" -eq 0 ]; then py_sudo=""; else py_sudo="sudo"; fi
  $py_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $py_sudo apt-get install -y -qq python3-venv python3-dev
fi
