"""A short run of the coverage-guided fuzz harness (tests/fuzz/fuzz_kernels.py) in CI.

With atheris installed: the committed seed corpus is replayed, then libFuzzer mutates it for a
fixed number of runs. Without atheris: the same target on seeded random inputs. Either way a
crash, a hang, an unclean exception or a result that disagrees with fastconv.reference fails
the test, and the failing input is printed (replay it with
``python tests/fuzz/fuzz_kernels.py --replay FILE`` or rerun atheris on it).
Longer runs: tools/fuzz.sh (FASTCONV_FUZZ_SECONDS).
"""
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "fuzz", "fuzz_kernels.py")
CORPUS = os.path.join(HERE, "fuzz", "corpus")
SANITIZED = bool(os.environ.get("FASTCONV_SANITIZED"))
RUNS = int(os.environ.get("FASTCONV_FUZZ_RUNS", "800" if SANITIZED else "3000"))


def _env():
    import fastconv
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env, root


def _have_atheris():
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _have_atheris(), reason="atheris not installed (pip install atheris)")
def test_atheris_short_run(tmp_path):
    env, root = _env()
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    before = len(os.listdir(corpus))
    proc = subprocess.run([sys.executable, HARNESS, f"-runs={RUNS}", "-seed=1", "-timeout=30",
                           "-rss_limit_mb=3072", f"-artifact_prefix={tmp_path}/", str(corpus)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    tail = proc.stderr[-4000:]
    assert proc.returncode == 0, f"fuzzer found a failure (rc={proc.returncode}):\n{tail}"
    assert f"Done {RUNS} runs" in proc.stderr or "DONE" in proc.stderr, tail
    assert before > 10


def test_random_inputs_without_coverage_guidance():
    env, root = _env()
    proc = subprocess.run([sys.executable, HARNESS, "--random", str(RUNS // 2)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert "random fuzz:" in proc.stdout


def test_seed_corpus_replays_clean():
    env, root = _env()
    files = sorted(os.path.join(CORPUS, f) for f in os.listdir(CORPUS))
    proc = subprocess.run([sys.executable, HARNESS, "--replay", *files], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "replayed:" in proc.stdout
