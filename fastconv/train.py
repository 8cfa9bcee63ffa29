"""A plain training loop: ``fit`` and ``evaluate``, with checkpoints and exact resume.

    from fastconv import nn, optim, train
    from fastconv.data import DataLoader
    from fastconv.datasets import digits

    loader = DataLoader(digits("train", as_dataset=True), batch_size=32, shuffle=True, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = train.fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=10,
                        val_loader=test_loader, checkpoint="run.ckpt.npz", resume=True)
    train.evaluate(model, test_loader)          # {"loss": ..., "accuracy": ..., "n": ...}

One training step is ``zero_grad; out = model(x); loss = loss_fn(out, y); model.backward(
loss_fn.backward()); [clip]; optimizer.step()``; the scheduler (if any) steps once per epoch.

Checkpoints (``checkpoint=path``) are written atomically after every epoch (temp file + fsync +
rename: a crash never destroys the previous one), as a pickle-free ``.npz`` holding the model's
state_dict, the optimizer's and scheduler's state, the number of finished epochs, the history, and
every random state the run depends on: the loader's shuffling seed (or generator), NumPy's global
generator, fastconv.nn's default generator (Dropout), and any ``numpy.random.Generator`` held by the
model's modules, the dataset's transforms or the loss. So ``fit(..., resume=True)`` continues a run
and ends with weights bit-identical to an uninterrupted run (for a fixed thread count).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from typing import Any, Callable, Iterable

import numpy as np

from ._checkpoint import CheckpointError, load_state, save_state
from .data._generators import find_generators, generator_state, set_generator_state

__all__ = ["fit", "evaluate", "clip_grad_norm_", "save_checkpoint", "load_checkpoint", "NonFiniteLossError",
           "CheckpointError"]

_NONFINITE_POLICIES = ("raise", "skip", "stop")
CHECKPOINT_KIND = "fastconv.train"


class NonFiniteLossError(FloatingPointError):
    """The loss (or the gradient norm) became NaN or infinite during training."""


# ---- gradient clipping --------------------------------------------------------------------------

def clip_grad_norm_(parameters: Iterable[Any], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale the gradients so that their global ``norm_type``-norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the norm is over all gradients together, the scale is
    ``max_norm / (total_norm + 1e-6)`` applied only when below 1. Returns the total norm before
    clipping (``inf``/``nan`` if a gradient is not finite; the gradients are then left as they are).
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    if not (norm_type > 0 or norm_type == math.inf):
        raise ValueError(f"norm_type must be positive or inf, got {norm_type}")
    grads = [p.grad for p in parameters if getattr(p, "grad", None) is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    if not math.isfinite(total):
        return total
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return total


# ---- random states the run depends on -------------------------------------------------------------

def _nn_default_generator() -> np.random.Generator | None:
    try:
        from .nn import init
    except ImportError:
        return None
    return init.default_generator()


def _rng_state(loader: Any, roots: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {"numpy_global": np.random.get_state()}
    nn_gen = _nn_default_generator()
    state["nn_default"] = None if nn_gen is None else generator_state(nn_gen)
    state["loader_seed"] = getattr(loader, "seed", None)
    gens = find_generators(roots)
    state["objects"] = {path: generator_state(g) for path, g in gens.items()}
    return state


def _restore_rng_state(state: dict[str, Any], loader: Any, roots: dict[str, Any]) -> None:
    np.random.set_state(state["numpy_global"])
    nn_gen = _nn_default_generator()
    if nn_gen is not None and state.get("nn_default") is not None:
        set_generator_state(nn_gen, state["nn_default"])
    if state.get("loader_seed") is not None and hasattr(loader, "seed"):
        loader.seed = state["loader_seed"]
    gens = find_generators(roots)
    saved = state.get("objects", {})
    missing = sorted(set(saved) - set(gens))
    if missing:
        warnings.warn(f"the checkpoint has random states for {missing} which this run does not have; "
                      "the resumed run may not reproduce the original exactly", RuntimeWarning, stacklevel=3)
    for path, gen in gens.items():
        if path in saved:
            set_generator_state(gen, saved[path])


# ---- checkpoints ----------------------------------------------------------------------------------

def save_checkpoint(path: str | os.PathLike, model: Any, optimizer: Any = None, scheduler: Any = None,
                    epoch: int = 0, **extra: Any) -> None:
    """Write a checkpoint atomically (pickle-free ``.npz``; see the module docstring)."""
    state = {
        "kind": CHECKPOINT_KIND,
        "epoch": int(epoch),
        "model": dict(model.state_dict()),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None and hasattr(scheduler, "state_dict") else None,
        **extra,
    }
    save_state(path, state)


def load_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None,
                    scheduler: Any = None) -> dict[str, Any]:
    """Read a checkpoint; load it into ``model``/``optimizer``/``scheduler`` when given. Returns the
    whole state (``"epoch"``, ``"model"``, ``"optimizer"``, ``"history"``, ...)."""
    state = load_state(path)
    if not isinstance(state, dict) or state.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{os.fspath(path)!r} is not a fastconv.train checkpoint")
    # Check that everything requested is present before changing anything.
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and state.get(name) is None:
            raise CheckpointError(f"{os.fspath(path)!r} holds no {name} state")
    # All or nothing: if a later part does not fit (e.g. the optimizer's groups), undo the earlier ones.
    targets = [(name, obj) for name, obj in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler))
               if obj is not None]
    backups = [(obj, obj.state_dict()) for _, obj in targets]
    done = []
    try:
        for name, obj in targets:
            obj.load_state_dict(state[name])
            done.append(obj)
    except BaseException:
        for obj, backup in backups:
            if obj in done:
                obj.load_state_dict(backup)
        raise
    return state


# ---- evaluation ---------------------------------------------------------------------------------

def _no_grad() -> Any:
    try:
        from ._grad_mode import no_grad
    except ImportError:
        return contextlib.nullcontext()
    return no_grad()


def _default_loss() -> Any:
    from .nn import CrossEntropyLoss
    return CrossEntropyLoss()


def _correct(out: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """(correct, counted) for class-index targets; (0, 0) when accuracy does not apply."""
    if out.ndim != 2 or y.ndim != 1 or y.dtype.kind not in "iu" or len(out) != len(y):
        return 0, 0
    valid = y >= 0  # e.g. ignore_index=-100
    return int(np.count_nonzero((out.argmax(axis=1) == y) & valid)), int(np.count_nonzero(valid))


def evaluate(model: Any, loader: Iterable[Any], loss_fn: Any = None) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``loader``, in eval mode and without gradient bookkeeping.

    Returns ``{"loss": mean per sample, "accuracy": fraction in [0, 1] (nan if not a classification),
    "n": samples}``. The model's training mode is restored afterwards.
    """
    loss_fn = _default_loss() if loss_fn is None else loss_fn
    was_training = getattr(model, "training", False)
    model.eval()
    total_loss, n, correct, counted = 0.0, 0, 0, 0
    try:
        with _no_grad():
            for x, y in loader:
                out = model(x)
                b = len(x)
                total_loss += float(loss_fn(out, y)) * b
                n += b
                c, k = _correct(out, np.asarray(y))
                correct, counted = correct + c, counted + k
    finally:
        model.train(was_training)
    return {"loss": total_loss / n if n else math.nan, "accuracy": correct / counted if counted else math.nan,
            "n": n}


# ---- training -------------------------------------------------------------------------------------

def _progress_bar(total: int, desc: str, enabled: bool, file: Any) -> Any:
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True, file=file,
                disable=not enabled, mininterval=0.1)


def _isatty(file: Any) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False


def _format_epoch(rec: dict[str, Any], epochs: int) -> str:
    parts = [f"epoch {rec['epoch']}/{epochs}", f"loss {rec['loss']:.4f}"]
    if not math.isnan(rec["accuracy"]):
        parts.append(f"acc {100 * rec['accuracy']:.2f}%")
    if "val_loss" in rec:
        parts.append(f"val_loss {rec['val_loss']:.4f}")
        if not math.isnan(rec["val_accuracy"]):
            parts.append(f"val_acc {100 * rec['val_accuracy']:.2f}%")
    parts.append(f"{rec['images_per_s']:.0f} img/s")
    parts.append(f"{rec['time']:.1f} s")
    if rec.get("skipped"):
        parts.append(f"{rec['skipped']} non-finite batches skipped")
    return "  ".join(parts)


def _nonfinite_message(what: str, value: float, epoch: int, batch: int, policy: str) -> str:
    return (f"{what} is {value} at epoch {epoch}, batch {batch}; the weights were not updated by this batch. "
            "Try a lower learning rate, gradient clipping (grad_clip=...), or check the data for NaN/inf"
            + ("" if policy != "raise" else "; pass on_nonfinite='skip' to skip such batches or 'stop' to end "
               "training cleanly"))


def fit(model: Any, loader: Iterable[Any], loss_fn: Any, optimizer: Any, epochs: int, *,
        val_loader: Iterable[Any] | None = None, scheduler: Any = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool = True,
        on_nonfinite: str = "raise", grad_clip: float | None = None,
        callback: Callable[[dict[str, Any]], Any] | None = None, file: Any = None) -> list[dict[str, Any]]:
    """Train ``model`` for ``epochs`` epochs (in total, counting those done before a resume).

    Parameters
    ----------
    loader : yields ``(x, y)`` batches; a ``fastconv.data.DataLoader`` gets ``set_epoch(e)`` before
        each epoch so its shuffling is reproducible and resumable.
    loss_fn : ``loss = loss_fn(out, y)`` (a float) and ``loss_fn.backward()`` -> d loss / d out.
    optimizer : ``zero_grad()``, ``step()``, ``state_dict()``/``load_state_dict()``.
    val_loader : evaluated after each epoch (``val_loss``, ``val_accuracy`` in the history).
    scheduler : ``step()`` once per epoch, after the epoch's updates.
    checkpoint : path of a checkpoint written atomically after every epoch.
    resume : if ``checkpoint`` exists, restore everything from it and continue after its last epoch
        (a missing file starts a fresh run).
    progress : a tqdm bar (loss, accuracy, images/s) when ``file`` is a terminal, and one summary
        line per epoch; ``False`` prints nothing.
    on_nonfinite : what to do when the loss (or, with ``grad_clip``, the gradient norm) is NaN/inf:
        ``"raise"`` :class:`NonFiniteLossError` (default), ``"skip"`` the batch (no update, counted in
        the history), or ``"stop"`` training after the current state (history entry ``"stopped"``).
        In every case the bad batch never reaches the weights.
    grad_clip : clip the global L2 norm of the gradients to this value before each step.
    callback : called with each epoch's history record.
    file : where progress goes (default ``sys.stderr``).

    Returns the history: one dict per epoch with ``epoch``, ``loss``, ``accuracy`` (training, as seen
    during the epoch), ``val_loss``/``val_accuracy`` when ``val_loader`` is given, ``lr`` (of the first
    parameter group, as used during the epoch), ``time``, ``images_per_s``, ``skipped``.
    """
    epochs = int(epochs)
    if epochs < 0:
        raise ValueError(f"epochs must be non-negative, got {epochs}")
    if on_nonfinite not in _NONFINITE_POLICIES:
        raise ValueError(f"on_nonfinite must be one of {_NONFINITE_POLICIES}, got {on_nonfinite!r}")
    if grad_clip is not None and not float(grad_clip) > 0:
        raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=path")
    file = sys.stderr if file is None else file
    show_bar = progress and _isatty(file)
    params = list(model.parameters())
    rng_roots = {"model": model, "dataset": getattr(loader, "dataset", None), "loss_fn": loss_fn,
                 "loader_generator": getattr(loader, "generator", None)}

    history: list[dict[str, Any]] = []
    start_epoch = 0
    if resume and os.path.exists(checkpoint):
        state = load_checkpoint(checkpoint, model, optimizer, scheduler)
        start_epoch = int(state["epoch"])
        history = list(state.get("history") or [])
        planned = state.get("planned_epochs")
        if scheduler is not None and planned is not None and planned != epochs:
            warnings.warn(f"resuming a run planned for {planned} epochs with epochs={epochs}: the learning-rate "
                          "scheduler restored from the checkpoint still follows the original plan",
                          RuntimeWarning, stacklevel=2)
        if state.get("rng") is not None:
            _restore_rng_state(state["rng"], loader, rng_roots)
        if progress:
            print(f"resumed from {os.fspath(checkpoint)!r} after epoch {start_epoch}", file=file)

    last_saved = start_epoch if resume and checkpoint is not None and os.path.exists(checkpoint) else None
    try:
        for epoch in range(start_epoch, epochs):
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
            model.train()
            t0 = time.perf_counter()
            total_loss, n_seen, correct, counted, skipped = 0.0, 0, 0, 0, 0
            stopped = None
            try:
                n_batches = len(loader)  # type: ignore[arg-type]
            except TypeError:
                n_batches = None
            bar = _progress_bar(n_batches, f"epoch {epoch + 1}/{epochs}", show_bar, file)
            try:
                for batch_idx, (x, y) in enumerate(loader):
                    optimizer.zero_grad()
                    out = model(x)
                    loss = float(loss_fn(out, y))
                    bad = None if math.isfinite(loss) else ("loss", loss)
                    if bad is None:
                        model.backward(loss_fn.backward())
                        if grad_clip is not None:
                            norm = clip_grad_norm_(params, grad_clip)
                            if not math.isfinite(norm):
                                bad = ("gradient norm", norm)
                    if bad is not None:
                        msg = _nonfinite_message(bad[0], bad[1], epoch + 1, batch_idx, on_nonfinite)
                        if hasattr(model, "clear_cache"):
                            model.clear_cache()
                        optimizer.zero_grad()
                        if on_nonfinite == "raise":
                            raise NonFiniteLossError(msg)
                        if on_nonfinite == "stop":
                            stopped = msg
                            break
                        skipped += 1
                        bar.update(1)
                        continue
                    optimizer.step()
                    b = len(x)
                    total_loss += loss * b
                    n_seen += b
                    c, k = _correct(out, np.asarray(y))
                    correct, counted = correct + c, counted + k
                    if show_bar:
                        elapsed = time.perf_counter() - t0
                        acc = f"{100 * correct / counted:.1f}%" if counted else "-"
                        bar.set_postfix_str(f"loss {total_loss / n_seen:.4f}  acc {acc}  "
                                            f"{n_seen / max(elapsed, 1e-9):.0f} img/s", refresh=False)
                    bar.update(1)
            finally:
                bar.close()
            elapsed = time.perf_counter() - t0
            rec: dict[str, Any] = {
                "epoch": epoch + 1,
                "loss": total_loss / n_seen if n_seen else math.nan,
                "accuracy": correct / counted if counted else math.nan,
                "lr": float(optimizer.param_groups[0]["lr"]) if getattr(optimizer, "param_groups", None) else math.nan,
                "time": elapsed,
                "images_per_s": n_seen / elapsed if elapsed > 0 else math.nan,
                "skipped": skipped,
            }
            if stopped is not None:
                # A partial epoch: recorded, but neither scheduled nor checkpointed as finished, so a resume
                # from the last checkpoint redoes it whole.
                rec["stopped"] = stopped
                history.append(rec)
                if progress:
                    print(f"stopped: {stopped}", file=file)
                break
            if scheduler is not None:
                scheduler.step()
            if val_loader is not None:
                val = evaluate(model, val_loader, loss_fn)
                rec["val_loss"], rec["val_accuracy"] = val["loss"], val["accuracy"]
            history.append(rec)
            if progress:
                print(_format_epoch(rec, epochs), file=file)
                if skipped:
                    print(f"warning: {skipped} batch(es) with a non-finite loss were skipped", file=file)
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, optimizer, scheduler, epoch=epoch + 1, history=history,
                                rng=_rng_state(loader, rng_roots), planned_epochs=epochs)
                last_saved = epoch + 1
            if callback is not None:
                callback(rec)
    except KeyboardInterrupt:
        if progress:
            where = (f"{os.fspath(checkpoint)!r} holds epoch {last_saved}; continue with resume=True"
                     if checkpoint is not None and last_saved is not None else "no checkpoint was written")
            print(f"\ninterrupted; {where}", file=file)
        raise
    return history
