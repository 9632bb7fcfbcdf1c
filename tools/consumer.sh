#!/usr/bin/env bash
# Installs convkit from build/ into a temporary prefix, then configures,
# builds and runs examples/consumer -- a separate CUDA project that finds the
# package with find_package(convkit) -- to prove the installed package works.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
cmake --install build --prefix "$prefix/install" >/dev/null
cmake -S examples/consumer -B "$prefix/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix/install" \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix/build"
"$prefix/build/convkit_consumer"
