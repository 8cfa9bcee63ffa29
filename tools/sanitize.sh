#!/usr/bin/env bash
# Sanitizer job: build a second copy of the extension with -fsanitize=address,undefined (setup.py
# honours FASTCONV_SANITIZE) into a directory outside the tree, then run the kernel tests against
# that copy with libasan preloaded. The in-tree build other people use is never touched.
#
#   tools/sanitize.sh                        # build (incremental) + run the kernel tests
#   tools/sanitize.sh tests/test_x.py -k y   # build + run these pytest arguments instead
#   tools/sanitize.sh --fuzz-harness ARGS    # build + run tests/fuzz/fuzz_kernels.py ARGS
#   FASTCONV_SANITIZE_DIR=/tmp/d tools/sanitize.sh   # where the build and staged package live
#
# Any ASan report or UBSan diagnostic aborts the test process, so pytest fails. Objects are
# compiled in parallel (one per CPU), only when their source or a header changed, from a copy
# of the sources in the build directory; FASTCONV_SANITIZE_OPT sets -O/-g (default "-O0 -g1").
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${FASTCONV_SANITIZE_DIR:-/tmp/fastconv_sanitize_$(id -u)_$(echo "$repo" | md5sum | cut -c1-8)}
stage="$dir/stage"
mkdir -p "$dir/lib" "$dir/temp" "$stage"

echo "== sanitized build into $dir"
t0=$(date +%s)
# Build from a private copy of the sources (mtimes kept, so unchanged files are not recompiled):
# setup.py's cythonize may regenerate fastconv/_ext.c, which must not happen in the tree other
# people build from, and no lock with tools/rebuild.sh is then needed.
src="$dir/src"
mkdir -p "$src/fastconv"
(cd "$repo" && tar -cf - setup.py pyproject.toml src_c fastconv/_ext.pyx $(ls fastconv/_ext.c 2>/dev/null)) \
  | tar -xpf - -C "$src"
# -O0 -g1 by default: 3-4x faster to compile than -O1 -g (the SIMD kernels are large templates),
# and ASan misses nothing at -O0. FASTCONV_SANITIZE_OPT="-O1 -g" for the slower, optimised build.
export FASTCONV_SANITIZE_OPT=${FASTCONV_SANITIZE_OPT:--O0 -g1}
(
  cd "$src"
  FASTCONV_SANITIZE=address,undefined python - "$dir" >"$dir/build.log" 2>&1 <<'PY' || { cat "$dir/build.log"; exit 1; }
# Run setup.py build_ext with the compiler's compile() made parallel and incremental: setuptools
# compiles one file after another and always from scratch, which is minutes of sanitizer
# instrumentation for three ISA copies of every kernel.
import glob, os, runpy, sys
from concurrent.futures import ThreadPoolExecutor
import setuptools  # noqa: F401  (makes `distutils` setuptools' copy)
from distutils.ccompiler import CCompiler

out = sys.argv[1]
opt = os.environ["FASTCONV_SANITIZE_OPT"].split()
headers = glob.glob("src_c/**/*.h", recursive=True) + ["setup.py"]
newest_header = max(os.path.getmtime(h) for h in headers)


def compile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=0, extra_preargs=None,
            extra_postargs=None, depends=None):
    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)
    if any(a.startswith("-fsanitize") for a in extra_postargs or []):
        extra_postargs = list(extra_postargs) + opt    # the last -O and -g win

    def one(obj):
        src, ext = build[obj]
        stamp = obj + ".flags"
        flags = repr((cc_args, extra_postargs, pp_opts))
        if (os.path.exists(obj) and os.path.getmtime(obj) > max(os.path.getmtime(src), newest_header)
                and os.path.exists(stamp) and open(stamp).read() == flags):
            return
        self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)
        with open(stamp, "w") as f:
            f.write(flags)

    with ThreadPoolExecutor(max(1, len(os.sched_getaffinity(0)))) as pool:
        list(pool.map(one, objects))
    return objects


CCompiler.compile = compile
sys.argv = ["setup.py", "-q", "build_ext", "--build-lib", f"{out}/lib", "--build-temp", f"{out}/temp"]
runpy.run_path("setup.py", run_name="__main__")
PY
)
so=$(find "$dir/lib" -name '_ext*.so' | head -n1)
echo "   built $(basename "$so") in $(( $(date +%s) - t0 )) s"

# Stage a copy of the Python package next to the sanitized .so; run from $stage so that
# `python -m pytest` (which puts the cwd first on sys.path) imports this copy.
rm -rf "$stage/fastconv"
(cd "$repo" && find fastconv -type f \( -name '*.py' -o -name '*.npz' -o -name '*.json' -o -name '*.txt' \) \
    -not -path '*/__pycache__/*' -print0 | tar -cf - --null -T - | tar -xf - -C "$stage")
cp "$so" "$stage/fastconv/"

asan=$(gcc -print-file-name=libasan.so)
export LD_PRELOAD="$asan"
# Python and NumPy are not built for LeakSanitizer (their arenas look like leaks): leak checks
# are the job of tests/test_reliability_leaks.py. Everything else halts on the first report.
# Allocations past 4 GB fail (MemoryError) instead of being served: tests never need them.
# Reports also go to files: pytest captures stderr, and an aborting test would take it along.
reports="$dir/reports"
rm -rf "$reports"; mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:detect_odr_violation=0:max_allocation_size_mb=4096:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export FASTCONV_SANITIZED=1           # tests shrink their sizes under the (slower) sanitizers
export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$stage${PYTHONPATH:+:$PYTHONPATH}"

cd "$stage"
python -c "import fastconv._ext as e; assert e.__file__.startswith('$stage'), e.__file__; print('   using', e.__file__)"

if [ "${1:-}" = "--fuzz-harness" ]; then
  shift
  python "$repo/tests/fuzz/fuzz_kernels.py" "$@" || { cat "$reports"/* 2>/dev/null | head -80; exit 1; }
  exit 0
fi

if [ "$#" -gt 0 ]; then
  args=("$@")
else
  # the kernel tests: everything that drives the C code through fastconv.functional
  args=()
  for f in "$repo"/tests/test_validation.py "$repo"/tests/test_conv*.py "$repo"/tests/test_pool*.py \
           "$repo"/tests/test_gemm*.py "$repo"/tests/test_functional*.py "$repo"/tests/test_channel_affine.py \
           "$repo"/tests/test_reliability_{fuzz,fuzz_harness,badcalls,large,threads,leaks}.py; do
    [ -e "$f" ] && args+=("$f")
  done
fi
# relative paths are given from the repo root
for i in "${!args[@]}"; do
  case "${args[$i]}" in tests/*) args[$i]="$repo/${args[$i]}";; esac
done
echo "== pytest under ASan+UBSan: ${#args[@]} argument(s)"
t1=$(date +%s)
status=0
python -m pytest -q -p no:cacheprovider -x --rootdir "$repo" "${args[@]}" || status=$?
# allocator_may_return_null leaves "failed to allocate" warnings for the beyond-memory cases,
# which are expected (they become MemoryError); errors and UBSan diagnostics are not
bad=$(grep -l -E "ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer" "$reports"/* 2>/dev/null || true)
if [ -n "$bad" ]; then
  echo "== sanitizer reports:"
  for f in $bad; do echo "-- $f"; grep -v "failed to allocate" "$f" | head -60; done
  status=${status/#0/1}
fi
[ "$status" -eq 0 ] || { echo "== sanitizer job FAILED (status $status)"; exit "$status"; }
echo "== sanitizer tests passed in $(( $(date +%s) - t1 )) s"
