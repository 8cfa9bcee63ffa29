"""fork() after the OpenMP pool has run: children must run kernels, with the right result, and
never hang (GNU libgomp's pool does not survive fork; fastconv drops forked children to one
thread, see fastconv/_config.py).

Every scenario runs in its own fresh interpreter (a subprocess) so that the thread pool state
of the pytest process does not matter, and every child is waited for with a timeout.
"""
import os
import subprocess
import sys
import textwrap

import pytest

import fastconv

TIMEOUT = 90

PRELUDE = textwrap.dedent("""
    import os, sys, time, select, warnings
    import numpy as np
    import fastconv, fastconv.functional as F

    rng = np.random.default_rng(0)
    # big enough that conv2d, pooling and matmul really enter their parallel regions
    x = rng.standard_normal((2, 32, 40, 40)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    a = rng.standard_normal((256, 256)).astype(np.float32)

    def run_all():
        y = F.conv2d(x, w, padding=1)
        gx, gw, gb = F.conv2d_backward(y, x, w, padding=1)
        m, idx = F.max_pool2d(x, 2, return_indices=True)
        return [y, gx, gw, gb, m, idx, F.max_pool2d_backward(m, idx, x.shape), F.avg_pool2d(x, 3, 2, 1),
                F.adaptive_avg_pool2d(x, 7), F.matmul(a, a)]

    def in_child(fn, timeout):
        # fork, run fn() in the child, ship its arrays back through a pipe; kill on timeout
        r, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                out = fn()
                import pickle
                data = pickle.dumps(out)
                code = 0
            except BaseException as exc:
                import pickle
                data = pickle.dumps(exc)
                code = 3
            with os.fdopen(wfd, "wb") as f:
                f.write(data)
            os._exit(code)
        os.close(wfd)
        chunks, deadline = [], time.monotonic() + timeout
        with os.fdopen(r, "rb") as f:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([f], [], [], left)[0]:
                    os.kill(pid, 9); os.waitpid(pid, 0)
                    print("HANG"); sys.exit(2)
                chunk = os.read(f.fileno(), 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        import pickle
        res = pickle.loads(b"".join(chunks)) if chunks else None
        if os.WIFSIGNALED(status):
            print("CHILD SIGNAL", os.WTERMSIG(status)); sys.exit(4)
        if isinstance(res, BaseException):
            raise res
        return res

    def same(a_list, b_list):
        assert len(a_list) == len(b_list)
        for u, v in zip(a_list, b_list):
            assert u.dtype == v.dtype and u.shape == v.shape
            assert np.array_equal(u, v), float(np.max(np.abs(u.astype(float) - v.astype(float))))
""")


def run_script(body):
    import fastconv as fc
    root = os.path.dirname(os.path.dirname(os.path.abspath(fc.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("OMP_NUM_THREADS", None)
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT + 60)
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    return proc.stdout


pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def test_child_of_a_threaded_parent_runs_every_kernel_with_the_same_result():
    out = run_script("""
        fastconv.set_num_threads(2)
        two = run_all()                       # the parent starts its OpenMP pool
        fastconv.set_num_threads(1)
        one = run_all()
        fastconv.set_num_threads(2)
        child = in_child(lambda: (fastconv.get_num_threads(), run_all()), timeout=%d)
        assert child[0] == 1, child[0]         # the at-fork handler dropped the child to 1 thread
        same(child[1], one)                    # bit-identical to the parent's 1-thread results
        for u, v in zip(child[1], two):        # and equal to its 2-thread ones up to reassociation
            np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-3)
        assert fastconv.get_num_threads() == 2  # the parent keeps its setting
        same(run_all(), two)                   # and its pool still works after the fork
        print("ok")
    """ % TIMEOUT)
    assert "ok" in out


def test_child_asking_for_threads_again_does_not_hang():
    # set_num_threads(2) in such a child would deadlock in libgomp: it warns and keeps 1 thread
    out = run_script("""
        fastconv.set_num_threads(2)
        one_thread_ref = None
        ref = run_all()
        def child():
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                fastconv.set_num_threads(2)
            assert any("forked" in str(r.message) for r in rec), [str(r.message) for r in rec]
            return fastconv.get_num_threads(), run_all()
        n, res = in_child(child, timeout=%d)
        assert n == 1, n
        for u, v in zip(res, ref):
            np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-3)
        print("ok")
    """ % TIMEOUT)
    assert "ok" in out


def test_grandchild_and_multiprocessing_fork_pool():
    # data-loader style: a multiprocessing pool with the "fork" start method, several workers,
    # and a worker that forks again
    out = run_script("""
        import multiprocessing as mp
        fastconv.set_num_threads(2)
        ref = F.conv2d(x, w, padding=1)
        def work(i):
            y = F.conv2d(x[i:i + 1], w, padding=1)
            grand = in_child(lambda: F.conv2d(x[i:i + 1], w, padding=1), timeout=60)
            return i, y, grand, fastconv.get_num_threads()
        with mp.get_context("fork").Pool(2) as pool:
            res = pool.map_async(work, [0, 1, 0, 1]).get(timeout=%d)
        for i, y, grand, n in res:
            assert n == 1
            np.testing.assert_allclose(y, ref[i:i + 1], rtol=1e-4, atol=1e-3)
            assert np.array_equal(y, grand)
        print("ok")
    """ % TIMEOUT)
    assert "ok" in out


def test_parent_that_never_used_threads_leaves_children_free():
    # the pool only breaks if it existed before fork: such a child may use 2 threads
    out = run_script("""
        fastconv.set_num_threads(1)
        ref = run_all()
        def child():
            fastconv.set_num_threads(2)
            return fastconv.get_num_threads(), run_all()
        n, res = in_child(child, timeout=%d)
        assert n == 2, n
        for u, v in zip(res, ref):
            np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-3)
        print("ok")
    """ % TIMEOUT)
    assert "ok" in out


def test_at_fork_handler_is_registered():
    assert fastconv.get_num_threads() >= 1
    from fastconv import _config
    assert hasattr(_config, "_after_fork_in_child")
