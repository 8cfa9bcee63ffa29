"""Optimizer base: parameter groups, per-parameter state, state_dict as torch."""
import copy
import numbers

import numpy as np

from ..nn.parameter import Parameter

__all__ = ["Optimizer"]


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Holds ``param_groups`` (a list of dicts: ``'params'`` plus the hyper-parameters, each
    group may override the defaults, e.g. its own ``lr``) and ``state`` (a dict from Parameter
    to that parameter's buffers). Parameters whose ``grad`` is None are skipped by ``step()``.

    ``state_dict()`` follows torch: ``{'state': {index: {...}}, 'param_groups': [{..., 'params':
    [index, ...]}]}`` with parameters numbered in group order; arrays are copies.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError("params: expected an iterable of Parameters or of dicts, got a single "
                            f"{type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError("params: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("params: parameters must be an ordered collection (a list), not a set")
        params = list(params) if params is not None else []
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params: item {i} is a {type(p).__name__}, expected a fastconv.nn.Parameter")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("params: a parameter group contains the same parameter twice")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        self._check_hyper(group)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError("params: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _check_hyper(self, group):
        """Subclasses validate their hyper-parameters (ValueError naming the argument)."""

    @staticmethod
    def _nonneg(group, name):
        v = group[name]
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or v < 0:
            raise ValueError(f"{name}: expected a non-negative number, got {v!r}")

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.shape != p.data.shape:
                    raise ValueError(f"grad: shape {p.grad.shape} does not match its parameter's {p.data.shape}")
                self._update(p, p.grad, group, self.state.setdefault(p, {}))
        return loss

    def _update(self, p, grad, group, state):
        raise NotImplementedError

    # ---- state dict ------------------------------------------------------------------------
    def state_dict(self):
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state; groups must match in number and sizes (checked
        before anything changes). Floating-point state is cast to its parameter's dtype."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            raise TypeError("state_dict: expected a dict with 'state' and 'param_groups' (from Optimizer.state_dict())")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"state_dict: loaded state dict has {len(saved_groups)} parameter groups, "
                             f"the optimizer has {len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"state_dict: loaded state dict contains a parameter group ({i}) that "
                                 f"doesn't match the size of optimizer's group ({len(s['params'])} vs "
                                 f"{len(g['params'])} parameters)")
        id_map = {}
        for g, s in zip(self.param_groups, saved_groups):
            for p, idx in zip(g["params"], s["params"]):
                id_map[idx] = p
        new_state = {}
        for idx, st in state_dict["state"].items():
            p = id_map.get(int(idx))
            if p is None:
                continue
            entry = {}
            for k, v in st.items():
                if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.ndim:
                    if v.shape != p.data.shape:
                        raise ValueError(f"state_dict: state {k!r} of parameter {idx} has shape {v.shape}, "
                                         f"the parameter has {p.data.shape}")
                    entry[k] = v.astype(p.data.dtype, copy=True)
                else:
                    entry[k] = copy.deepcopy(v)
            new_state[p] = entry
        self.state = new_state
        for g, s in zip(self.param_groups, saved_groups):
            params = g["params"]
            g.clear()
            g.update({k: copy.deepcopy(v) for k, v in s.items() if k != "params"})
            g["params"] = params

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)
