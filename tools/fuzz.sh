#!/usr/bin/env bash
# Longer fuzzing on demand (CI runs a few seconds of each in the test suite):
#   1. the coverage-guided atheris harness over the kernels' argument space, corpus kept in
#      $FASTCONV_FUZZ_CORPUS (seeded from tests/fuzz/corpus) for FASTCONV_FUZZ_SECONDS seconds;
#   2. the hypothesis differential tests with FASTCONV_FUZZ_EXAMPLES examples each.
#
#   FASTCONV_FUZZ_SECONDS=3600 tools/fuzz.sh
#   FASTCONV_FUZZ_SANITIZE=1 tools/fuzz.sh     # the harness against the ASan/UBSan build
# Crashing inputs are written to $FASTCONV_FUZZ_CORPUS/../artifacts/; replay one with
#   python tests/fuzz/fuzz_kernels.py --replay FILE
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FASTCONV_FUZZ_SECONDS:-600}
examples=${FASTCONV_FUZZ_EXAMPLES:-2000}
corpus=${FASTCONV_FUZZ_CORPUS:-/tmp/fastconv_fuzz_$(id -u)/corpus}
artifacts="$(dirname "$corpus")/artifacts"
mkdir -p "$corpus" "$artifacts"
cp -n "$repo"/tests/fuzz/corpus/* "$corpus"/ 2>/dev/null || true
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"

echo "== atheris: $seconds s, corpus $corpus"
if [ -n "${FASTCONV_FUZZ_SANITIZE:-}" ]; then
  "$repo/tools/sanitize.sh" --fuzz-harness "-max_total_time=$seconds" -timeout=60 -rss_limit_mb=0 \
      "-artifact_prefix=$artifacts/" "$corpus"
else
  python "$repo/tests/fuzz/fuzz_kernels.py" "-max_total_time=$seconds" -timeout=60 -rss_limit_mb=4096 \
      "-artifact_prefix=$artifacts/" "$corpus"
fi
echo "== hypothesis: $examples examples per test"
cd "$repo"
FASTCONV_FUZZ_EXAMPLES=$examples python -m pytest -q -p no:cacheprovider tests/test_reliability_fuzz.py
