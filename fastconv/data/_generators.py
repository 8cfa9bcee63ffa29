"""Find the NumPy random generators an object graph holds (datasets, transforms, models, losses).

Used to checkpoint them (``fastconv.train``) and to give each DataLoader worker process its own
independent stream (a forked worker would otherwise repeat its parent's random draws).
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

__all__ = ["find_generators", "generator_state", "set_generator_state", "reseed_generators"]

_MAX_CONTAINER_WALK = 256


def find_generators(roots: dict[str, Any], max_depth: int = 6) -> dict[str, Any]:
    """``{path: Generator or RandomState}`` reachable from ``roots`` through objects' attributes, lists,
    tuples and dicts (deterministic order; a shared generator is listed once). Bounded: at most
    ``max_depth`` levels, and long containers (a dataset's list of samples) are not entered."""
    found: dict[str, Any] = {}
    seen: set[int] = set()

    def walk(obj: Any, path: str, depth: int) -> None:
        if id(obj) in seen or depth > max_depth:
            return
        if isinstance(obj, (np.random.Generator, np.random.RandomState)):
            seen.add(id(obj))
            found[path] = obj
            return
        if isinstance(obj, (np.ndarray, str, bytes, int, float, bool)) or obj is None:
            return
        seen.add(id(obj))
        if isinstance(obj, (list, tuple, dict)) and len(obj) > _MAX_CONTAINER_WALK:
            return  # e.g. ImageFolder.samples: a million (path, class) pairs hold no generator
        if isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{path}[{i}]", depth + 1)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(k, (str, int)):
                    walk(v, f"{path}[{k!r}]", depth + 1)
        elif hasattr(obj, "__dict__") and not isinstance(obj, (type, types.ModuleType, types.FunctionType,
                                                                types.MethodType)):
            for k, v in vars(obj).items():
                if k != "_ctx":  # activations saved for backward: never generators, can be large
                    walk(v, f"{path}.{k}", depth + 1)

    for name, root in roots.items():
        walk(root, name, 0)
    return found


def generator_state(gen: Any) -> Any:
    return gen.bit_generator.state if isinstance(gen, np.random.Generator) else gen.get_state()


def set_generator_state(gen: Any, state: Any) -> None:
    if isinstance(gen, np.random.Generator):
        gen.bit_generator.state = state
    else:
        gen.set_state(state)


def reseed_generators(root: Any, seed_sequence: np.random.SeedSequence) -> int:
    """Reseed, in place, every generator reachable from ``root`` from children of ``seed_sequence``
    (one independent stream each). Returns how many were reseeded."""
    gens = list(find_generators({"root": root}).values())
    for gen, child in zip(gens, seed_sequence.spawn(len(gens))):
        if isinstance(gen, np.random.Generator):
            gen.bit_generator.state = type(gen.bit_generator)(child).state
        else:
            gen.seed(child.generate_state(1)[0])
    return len(gens)
