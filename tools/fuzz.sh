#!/usr/bin/env bash
# Bounded fuzzing, as CI runs it: builds the fuzz preset (clang, libFuzzer,
# ASan + UBSan) and runs each fuzz target from its seed corpus in
# tests/fuzz/corpus/<target>/ for a fixed time. Exits 1 when any target finds
# something: a crash, a sanitizer report, an exception other than
# convkit::Error, an input slower than the timeout or a memory blow-up. Each
# finding's input is kept under the findings folder and printed, escaped, in
# the log. New interesting inputs go to a scratch folder, never into the
# committed corpus.
#
# CI's run is a reproducible regression check, not a lottery: libFuzzer's
# mutations follow CONVKIT_FUZZ_SEED (default 1), so the same commit explores
# the same inputs on every run, and a CI failure means a change broke
# something, not that this run drew a new input. Any run of the same seed for
# at least as long covers CI's; a longer run with a fixed seed before pushing
# therefore tells whether CI will pass. Exploratory runs use CONVKIT_FUZZ_SEED=0
# (a fresh random seed each run) and a larger CONVKIT_FUZZ_SECONDS; what they
# find goes into the seed corpus with its fix.
#
# Knobs: CONVKIT_FUZZ_SECONDS (per target, default 60), CONVKIT_FUZZ_RUNS
# (per target cap on executions, default 20000000), CONVKIT_FUZZ_SEED
# (default 1; 0 = random), CONVKIT_FUZZ_TARGETS
# (space-separated subset), CONVKIT_FUZZ_FINDINGS (default build-fuzz/findings),
# CONVKIT_JOBS (build parallelism).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export PATH="/usr/local/cuda/bin:$PATH"
jobs="${CONVKIT_JOBS:-$(nproc)}"
seconds="${CONVKIT_FUZZ_SECONDS:-60}"
runs="${CONVKIT_FUZZ_RUNS:-20000000}"
seed="${CONVKIT_FUZZ_SEED:-1}"
targets="${CONVKIT_FUZZ_TARGETS:-fuzz_matrix_market fuzz_tuning_file fuzz_spec}"
findings="$(realpath -m "${CONVKIT_FUZZ_FINDINGS:-build-fuzz/findings}")"

cmake --preset fuzz
cmake --build --preset fuzz -j "$jobs"

# protect_shadow_gap=0: the CUDA runtime maps memory where ASan's shadow gap
# would be. Leaks are findings too (libFuzzer checks them per input).
export ASAN_OPTIONS="protect_shadow_gap=0:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in $targets; do
  mkdir -p "$findings/$t" "$scratch/$t"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  echo "fuzz: $t for ${seconds}s (at most $runs runs, seed $seed)"
  # -timeout: one input slower than 10 s is a hang. -rss_limit_mb (and the
  # malloc limit it implies): inputs are at most 4 KiB, so a 2 GiB footprint
  # or a single allocation that large is a finding, not a big matrix.
  set +e
  TMPDIR="$scratch" "build-fuzz/tests/fuzz/$t" "${dict[@]}" \
    -seed="$seed" -max_total_time="$seconds" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$findings/$t/" \
    "$scratch/$t" "tests/fuzz/corpus/$t"
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    for f in "$findings/$t"/*; do
      [ -f "$f" ] || continue
      echo "fuzz: $t finding $f:"
      python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read()))' "$f"
    done
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs under $findings; replay one with build-fuzz/tests/fuzz/<target> <file>)" >&2
  exit 1
fi
echo "fuzz: no findings"
