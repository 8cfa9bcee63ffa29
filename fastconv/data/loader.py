"""DataLoader: batches of NumPy arrays from a map-style dataset, with reproducible shuffling.

Shuffling is reproducible *per epoch*: with ``seed=s``, epoch ``e`` draws its order from a generator
seeded with ``(s, e)`` (``np.random.default_rng([s, e])``), independent of what happened in earlier
epochs. So a run resumed at epoch ``e`` sees exactly the order an uninterrupted run would have seen:
call ``loader.set_epoch(e)`` before iterating (``fastconv.train.fit`` does). Without ``set_epoch``,
each ``iter(loader)`` uses the current epoch and then advances it by one.

With ``seed=None`` a base seed is drawn once from the OS (and kept in ``loader.seed``, so a
checkpoint can still record it). Passing ``generator=`` (a ``numpy.random.Generator``) instead makes
every epoch consume that generator, as ``torch.utils.data.DataLoader(generator=...)`` does; then
resuming needs the generator's state too (``fit`` saves it in its checkpoints).

``num_workers=N`` builds batches in N worker processes (see ``fastconv.data._workers``): same order,
reproducible content, errors re-raised in the main process, a dead or stuck worker raises
:class:`WorkerError` instead of hanging.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from typing import Any, Callable, Iterator, Sequence

import numpy as np

__all__ = ["DataLoader", "default_collate"]


def _collate_field(values: Sequence[Any]) -> Any:
    first = values[0]
    if isinstance(first, (bool, np.bool_)):
        return np.asarray(values, dtype=bool)
    if isinstance(first, (numbers.Integral, np.integer)):
        return np.asarray(values, dtype=np.int64)  # class indices: int64 like torch's targets
    if isinstance(first, (numbers.Real, np.floating)):
        return np.asarray(values, dtype=first.dtype if isinstance(first, np.generic) else np.float64)
    if isinstance(first, np.ndarray):
        try:
            return np.stack(values)
        except ValueError:
            shapes = sorted({v.shape for v in values})
            raise ValueError(f"cannot batch samples of different shapes {shapes[:4]}; resize them to one "
                             f"size (e.g. transforms.Resize + CenterCrop) or pass a collate_fn") from None
    if isinstance(first, (tuple, list)):
        if any(len(v) != len(first) for v in values):
            raise ValueError("cannot batch samples with different numbers of fields")
        fields = [_collate_field(list(v)) for v in zip(*values)]
        return tuple(fields) if isinstance(first, tuple) else fields
    if isinstance(first, dict):
        return {k: _collate_field([v[k] for v in values]) for k in first}
    if isinstance(first, str):
        return list(values)
    try:
        return np.stack([np.asarray(v) for v in values])
    except Exception as exc:
        raise TypeError(f"default_collate cannot batch samples of type {type(first).__name__}") from exc


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch.

    Tuples are collated field by field: arrays are stacked along a new first axis (dtype kept), Python or
    NumPy integers become an ``int64`` array (class indices), floats a float array, dicts per key.
    """
    if len(samples) == 0:
        raise ValueError("cannot collate an empty batch")
    return _collate_field(list(samples))


def _batch_from_arrays(fields: tuple) -> tuple:
    # Same result as default_collate on the individual samples: a 1-D integer field (one integer per
    # sample) becomes int64; stacked arrays keep their dtype.
    return tuple(f.astype(np.int64) if f.ndim == 1 and np.issubdtype(f.dtype, np.integer) and f.dtype != np.int64
                 else f for f in fields)


def _fetch_get_batch(dataset: Any, idx: np.ndarray) -> tuple:
    return _batch_from_arrays(tuple(dataset.get_batch(idx)))


def _fetch_samples(collate: Callable[[list], Any], dataset: Any, idx: np.ndarray) -> Any:
    return collate([dataset[int(i)] for i in idx])


def _positive_int(value: Any, name: str) -> int:
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be a positive integer, got {type(value).__name__}") from None
    if v <= 0:
        raise ValueError(f"{name} must be a positive integer, got {v}")
    return v


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for x, y in DataLoader(ds, batch_size=32, shuffle=True, seed=0)``.

    Parameters
    ----------
    dataset : map-style dataset (``__len__`` and ``__getitem__``; ``get_batch`` used when present).
    batch_size : samples per batch (the last one may be smaller unless ``drop_last``).
    shuffle : draw a new random order every epoch (see the module docstring for reproducibility).
    drop_last : drop the last incomplete batch.
    seed : base seed of the per-epoch shuffling; ``None`` draws one from the OS.
    generator : a ``numpy.random.Generator`` to shuffle with instead of ``seed`` (consumed every epoch).
    collate_fn : turns a list of samples into a batch (default :func:`default_collate`).
    num_workers : build batches in this many worker processes (0: in the main process). Batches come
        out in the same order and, for a fixed ``seed`` and ``num_workers``, with the same content;
        each worker reseeds the generators its dataset holds from ``(seed, epoch, worker id)``. See
        ``fastconv.data._workers`` for the safety rules (dead workers raise, no hang, clean shutdown).
    timeout : with workers, seconds to wait for one batch before raising (0: no limit).
    prefetch_factor : with workers, batches requested ahead per worker.
    multiprocessing_context : ``"fork"`` (default where available), ``"spawn"`` or ``"forkserver"``;
        with spawn the dataset and ``collate_fn`` must be picklable.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, generator: np.random.Generator | None = None,
                 collate_fn: Callable[[list], Any] | None = None, num_workers: int = 0, timeout: float = 0,
                 prefetch_factor: int = 2, multiprocessing_context: str | None = None) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"dataset must define __len__ and __getitem__, got {type(dataset).__name__}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
        if generator is not None and seed is not None:
            raise ValueError("pass either seed or generator, not both")
        if seed is not None:
            if isinstance(seed, bool):
                raise TypeError("seed must be a non-negative integer or None, got a bool")
            try:
                seed = operator.index(seed)
            except TypeError:
                raise TypeError(f"seed must be a non-negative integer or None, got {type(seed).__name__}") from None
            if seed < 0:
                raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.dataset = dataset
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        # A drawn seed is kept so that the order of every epoch can still be recorded and replayed.
        self.seed = seed if seed is not None else int(np.random.SeedSequence().entropy % (1 << 63))
        self.collate_fn = collate_fn
        self.num_workers = operator.index(num_workers)
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be non-negative, got {self.num_workers}")
        self.timeout = float(timeout)
        if not self.timeout >= 0:
            raise ValueError(f"timeout must be non-negative, got {timeout}")
        self.prefetch_factor = _positive_int(prefetch_factor, "prefetch_factor")
        if multiprocessing_context not in (None, "fork", "spawn", "forkserver"):
            raise ValueError(f"multiprocessing_context must be 'fork', 'spawn' or 'forkserver', "
                             f"got {multiprocessing_context!r}")
        self.multiprocessing_context = multiprocessing_context
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use the order of ``epoch`` (for resuming a run)."""
        epoch = operator.index(epoch)
        if epoch < 0:
            raise ValueError(f"epoch must be non-negative, got {epoch}")
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of ``epoch`` (default: the next one), in the order they will be served.

        With ``generator=`` this consumes the generator, like an iteration does.
        """
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.generator is not None:
            return self.generator.permutation(n)
        e = self.epoch if epoch is None else operator.index(epoch)
        return np.random.default_rng([self.seed, e]).permutation(n)

    def __iter__(self) -> Iterator[Any]:
        epoch = self.epoch
        order = self.order()
        self.epoch += 1
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        batches = [order[start:start + self.batch_size] for start in range(0, stop, self.batch_size)]
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            fetch: Callable[[Any, np.ndarray], Any] = _fetch_get_batch
        else:
            fetch = functools.partial(_fetch_samples, self.collate_fn or default_collate)
        if self.num_workers == 0 or not batches:
            for idx in batches:
                yield fetch(self.dataset, idx)
            return
        from ._workers import iterate_with_workers
        yield from iterate_with_workers(self.dataset, fetch, batches, self.num_workers, self.seed, epoch,
                                        self.timeout, self.prefetch_factor, self.multiprocessing_context)

    def __repr__(self) -> str:
        workers = f", num_workers={self.num_workers}" if self.num_workers else ""
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}{workers})")
