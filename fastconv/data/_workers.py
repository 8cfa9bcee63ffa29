"""Worker processes for ``DataLoader(num_workers=N)``: batches are built in parallel, served in order.

How it stays safe and reproducible:

* Batch ``b`` always goes to worker ``b % N`` and each worker builds its batches in order, so with
  a fixed seed and ``num_workers`` the batches are identical run to run.
* Each worker reseeds every NumPy generator its dataset holds (random transforms, noise) from
  ``SeedSequence([seed, epoch, worker_id])``: forked workers would otherwise all repeat the
  parent's random draws (the classic duplicated-augmentation bug).
* Workers ignore SIGINT (Ctrl-C stops the main process, which then shuts them down) and only build
  batches; kernels called in a forked child run on one thread (fastconv._config's at-fork handler),
  so they cannot hang on libgomp's pool.
* The main process never blocks forever: it polls the result queue and raises if a worker died
  (segfault, OOM kill) or if ``timeout`` seconds pass without a batch.
* An exception in a worker is re-raised in the main process with the worker's traceback attached.
* Shutdown (end of epoch, ``break``, an error, garbage collection) stops and joins every worker,
  terminating any that does not exit in time.

Batches travel between our own processes through ``multiprocessing`` queues (pickle over a pipe);
nothing read from a file is ever unpickled.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import signal
import time
import traceback
from typing import Any, Callable, Iterator

import numpy as np

from ._generators import reseed_generators

_POLL_SECONDS = 0.1
_JOIN_SECONDS = 5.0    # idle workers exit at once; this only bounds a pathological one
_ABANDON_SECONDS = 0.2


class WorkerError(RuntimeError):
    """A DataLoader worker process died or stopped answering."""


class _RemoteError:
    """An exception raised in a worker, carried to the main process."""

    def __init__(self, exc: BaseException, worker_id: int) -> None:
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.worker_id = worker_id
        try:
            self.exc: BaseException | None = pickle.loads(pickle.dumps(exc))
        except Exception:  # noqa: BLE001 - an exception that cannot travel is described instead
            self.exc = None
        self.summary = f"{type(exc).__name__}: {exc}"

    def reraise(self) -> None:
        context = f"in DataLoader worker {self.worker_id}:\n{self.text}"
        exc = self.exc if self.exc is not None else RuntimeError(f"{self.summary} ({context})")
        if hasattr(exc, "add_note"):
            exc.add_note(context)
        raise exc


def _worker_loop(dataset: Any, fetch: Callable[[Any, np.ndarray], Any], index_queue: Any, result_queue: Any,
                 worker_id: int, seed: int, epoch: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ss = np.random.SeedSequence([seed, epoch, worker_id])
    reseed_generators(dataset, ss.spawn(1)[0])
    np.random.seed(ss.generate_state(1)[0])  # legacy global generator, for datasets that use np.random.*
    try:
        from ..nn import init  # Dropout-style draws inside a dataset come from nn's default generator
        init.manual_seed(ss.generate_state(2)[1])
    except ImportError:
        pass
    while True:
        try:
            task = index_queue.get()
        except (EOFError, OSError):
            break
        if task is None:
            break
        batch_no, indices = task
        try:
            result = (batch_no, fetch(dataset, indices), None)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the main process
            result = (batch_no, None, _RemoteError(exc, worker_id))
        try:
            result_queue.put(result)
        except Exception as exc:  # noqa: BLE001 - e.g. a batch that cannot be pickled
            result_queue.put((batch_no, None, _RemoteError(exc, worker_id)))
    # The main process may have stopped reading (early break): do not wait to flush on exit.
    result_queue.cancel_join_thread()


def _context(name: str | None) -> Any:
    if name is not None:
        return mp.get_context(name)
    # fork starts fastest and needs nothing picklable; where it is unavailable (Windows), spawn.
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def iterate_with_workers(dataset: Any, fetch: Callable[[Any, np.ndarray], Any], batches: list[np.ndarray],
                         num_workers: int, seed: int, epoch: int, timeout: float, prefetch: int,
                         context: str | None) -> Iterator[Any]:
    """Yield ``fetch(dataset, batches[b])`` for every ``b`` in order, computed by ``num_workers`` processes."""
    ctx = _context(context)
    result_queue = ctx.Queue()
    index_queues, workers = [], []
    finished = False
    try:
        for w in range(num_workers):
            iq = ctx.Queue()
            p = ctx.Process(target=_worker_loop, args=(dataset, fetch, iq, result_queue, w, seed, epoch),
                            name=f"fastconv-dataloader-{w}", daemon=True)
            p.start()
            index_queues.append(iq)
            workers.append(p)
        sent = 0
        limit = prefetch * num_workers

        def send_more(upto: int) -> int:
            nonlocal sent
            while sent < min(upto, len(batches)):
                index_queues[sent % num_workers].put((sent, batches[sent]))
                sent += 1
            return sent

        send_more(limit)
        pending: dict[int, Any] = {}
        for want in range(len(batches)):
            waited = 0.0
            while want not in pending:
                try:
                    batch_no, data, err = result_queue.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    waited += _POLL_SECONDS
                    dead = [p for p in workers if not p.is_alive()]
                    if dead:
                        p = dead[0]
                        raise WorkerError(f"DataLoader worker {workers.index(p)} (pid {p.pid}) exited unexpectedly "
                                          f"with code {p.exitcode}") from None
                    if timeout and waited >= timeout:
                        raise WorkerError(f"DataLoader timed out after {timeout} s waiting for batch {want}") from None
                    continue
                if err is not None:
                    err.reraise()
                pending[batch_no] = data
            send_more(want + 1 + limit)
            yield pending.pop(want)
        finished = True
    finally:
        # After an error or an early break, outstanding work is abandoned: do not wait for it.
        _shutdown(workers, index_queues, result_queue, _JOIN_SECONDS if finished else _ABANDON_SECONDS)


def _shutdown(workers: list, index_queues: list, result_queue: Any, wait: float) -> None:
    for iq in index_queues:
        try:
            iq.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + wait
    for p in workers:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in workers:
        if p.is_alive():
            p.terminate()
            p.join(timeout=1.0)
        if p.is_alive() and hasattr(p, "kill"):
            p.kill()
            p.join(timeout=1.0)
    for q in (*index_queues, result_queue):
        q.cancel_join_thread()  # never hang at exit on data no one will read
        q.close()
    if os.name == "posix":
        for p in workers:
            try:
                p.close()
            except ValueError:
                pass
