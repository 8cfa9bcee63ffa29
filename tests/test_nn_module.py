"""Module bookkeeping: registration, Sequential, state_dict/load_state_dict, modes, dtype, repr,
no_grad, and backward stopping at the lowest trainable module."""
from collections import OrderedDict
import threading

import numpy as np
import pytest

import fastconv
from fastconv import nn
from helpers import assert_close, randn


def small_cnn(dtype=np.float32):
    fastconv.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, dtype=dtype), nn.BatchNorm2d(8, dtype=dtype), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32, 16, dtype=dtype), nn.ReLU(),
        nn.Linear(16, 10, dtype=dtype))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        self.scale = nn.Parameter(np.ones(1, np.float32))
        self.register_buffer("steps", np.zeros((), np.int64))
        self.fc = nn.Linear(4, 2)


# ---- registration ------------------------------------------------------------------------------

def test_attribute_assignment_registers_in_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "features.0.weight", "features.0.bias", "fc.weight", "fc.bias"]
    assert [n for n, _ in net.named_children()] == ["features", "fc"]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.1", "fc"]
    assert [n for n, _ in net.named_buffers()] == ["steps"]
    assert list(net.state_dict()) == ["scale", "steps", "features.0.weight", "features.0.bias",
                                      "fc.weight", "fc.bias"]


def test_replacing_a_child_keeps_its_place_and_updates_parameters():
    net = Net()
    old = net.fc
    net.fc = nn.Linear(4, 7)
    assert net.fc is not old and net.fc.out_features == 7
    assert [n for n, _ in net.named_children()] == ["features", "fc"]
    assert net.state_dict()["fc.weight"].shape == (7, 4)
    net.fc = None
    assert "fc.weight" not in net.state_dict()


def test_assignment_type_errors():
    net = Net()
    with pytest.raises(TypeError, match="scale"):
        net.scale = np.ones(1)
    with pytest.raises(TypeError, match="steps"):
        net.steps = 3
    with pytest.raises(TypeError, match="fc"):
        net.fc = "not a module"
    net.steps = np.array(5)  # an array replaces the buffer
    assert net.state_dict()["steps"] == 5


def test_assignment_before_init_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match="__init__"):
        Bad()


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3


def test_get_submodule_and_delattr():
    net = Net()
    assert net.get_submodule("features.0") is net.features[0]
    with pytest.raises(AttributeError, match="nope"):
        net.get_submodule("features.nope")
    del net.fc
    assert "fc" not in dict(net.named_children())


# ---- Sequential --------------------------------------------------------------------------------

def test_sequential_indexing_len_iteration_and_slicing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and seq[-3] is a
    assert list(seq) == [a, b, c]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == [b, c]
    assert list(head.state_dict()) == ["2.weight", "2.bias"]  # torch keeps the names
    with pytest.raises(IndexError):
        seq[3]
    with pytest.raises(IndexError):
        seq[-4]


def test_sequential_setitem_append_insert_delete():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    new = nn.Linear(2, 3)
    seq[0] = new
    assert seq[0] is new and list(seq._modules) == ["0", "1"]
    seq[-1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    seq.append(nn.Linear(3, 1))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    del seq[1]
    assert list(seq._modules) == ["0", "1"] and isinstance(seq[1], nn.Linear)
    seq.insert(1, nn.ReLU())
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(TypeError):
        seq[0] = 3
    with pytest.raises(TypeError):
        nn.Sequential(nn.ReLU(), "x")


def test_sequential_from_ordered_dict():
    seq = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["conv.weight", "conv.bias"]
    assert seq.conv is seq[0]


def test_module_list():
    ml = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 3 and isinstance(ml[-1], nn.Linear)
    assert list(ml.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_forward_backward_matches_manual_chain():
    fastconv.manual_seed(1)
    l1, l2 = nn.Linear(4, 5, dtype=np.float64), nn.Linear(5, 2, dtype=np.float64)
    seq = nn.Sequential(l1, nn.ReLU(), l2)
    x = randn((3, 4))
    y = seq(x)
    h = np.maximum(x @ l1.weight.data.T + l1.bias.data, 0)
    assert_close(y, h @ l2.weight.data.T + l2.bias.data)
    gy = randn(y.shape, seed=1)
    gx = seq.backward(gy, need_input_grad=True)
    gh = (gy @ l2.weight.data) * (h > 0)
    assert_close(l2.weight.grad, gy.T @ h)
    assert_close(l1.weight.grad, gh.T @ x)
    assert_close(gx, gh @ l1.weight.data)


# ---- gradients: accumulation, zero_grad, frozen layers, early stop ----------------------------

def test_gradients_accumulate_until_zero_grad():
    lin = nn.Linear(3, 2, dtype=np.float64)
    x = randn((4, 3))
    lin(x)
    lin.backward(np.ones((4, 2)))
    first = lin.weight.grad.copy()
    lin(x)
    lin.backward(np.ones((4, 2)))
    assert_close(lin.weight.grad, 2 * first)
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None
    lin(x)
    lin.backward(np.ones((4, 2)))
    lin.zero_grad(set_to_none=False)
    assert np.all(lin.weight.grad == 0)


def test_backward_returns_input_grad_only_when_asked():
    lin = nn.Linear(3, 2)
    x = randn((4, 3), np.float32)
    lin(x)
    assert lin.backward(np.ones((4, 2), np.float32)) is None
    assert lin.weight.grad is not None
    lin(x)
    assert lin.backward(np.ones((4, 2), np.float32), need_input_grad=True).shape == x.shape


class CountingConv(nn.Conv2d):
    calls = []

    def backward(self, grad_out, need_input_grad=False):
        CountingConv.calls.append((self, need_input_grad))
        return super().backward(grad_out, need_input_grad)


def _frozen_trunk_net():
    fastconv.manual_seed(0)
    trunk = [CountingConv(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
             CountingConv(4, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*trunk, nn.Flatten(), nn.Linear(16, 10))


def test_frozen_trunk_is_not_differentiated(monkeypatch):
    net = _frozen_trunk_net()
    for m in list(net)[:6]:
        m.requires_grad_(False)
    calls = []
    real = fastconv.functional.conv2d_backward
    monkeypatch.setattr(fastconv.functional, "conv2d_backward",
                        lambda *a, **k: calls.append(k) or real(*a, **k))
    CountingConv.calls = []
    x = randn((2, 1, 8, 8), np.float32)
    crit = nn.CrossEntropyLoss()
    crit(net(x), np.array([1, 2]))
    assert net.backward(crit.backward()) is None
    assert CountingConv.calls == [] and calls == []
    assert net[-1].weight.grad is not None
    assert all(p.grad is None for m in list(net)[:6] for p in m.parameters())
    # the frozen layers released what they saved
    assert all(m._ctx is None for m in net.modules())


def test_backward_stops_at_lowest_trainable_layer(monkeypatch):
    net = _frozen_trunk_net()
    net[0].requires_grad_(False)  # only the first conv frozen: the second is trained
    calls = []
    real = fastconv.functional.conv2d_backward
    monkeypatch.setattr(fastconv.functional, "conv2d_backward",
                        lambda *a, **k: calls.append(k) or real(*a, **k))
    CountingConv.calls = []
    crit = nn.CrossEntropyLoss()
    crit(net(randn((2, 1, 8, 8), np.float32)), np.array([1, 2]))
    net.backward(crit.backward())
    assert CountingConv.calls == [(net[3], False)]
    assert len(calls) == 1 and calls[0]["need_input_grad"] is False and calls[0]["need_weight_grad"]
    assert net[3].weight.grad is not None and net[0].weight.grad is None


def test_first_layer_input_grad_not_computed_unless_asked(monkeypatch):
    net = _frozen_trunk_net()
    calls = []
    real = fastconv.functional.conv2d_backward
    monkeypatch.setattr(fastconv.functional, "conv2d_backward",
                        lambda *a, **k: calls.append(k["need_input_grad"]) or real(*a, **k))
    x = randn((2, 1, 8, 8), np.float32)
    y = net(x)
    assert net.backward(np.ones_like(y)) is None
    assert calls == [True, False]
    calls.clear()
    y = net(x)
    gx = net.backward(np.ones_like(y), need_input_grad=True)
    assert gx.shape == x.shape and calls == [True, True]


def test_frozen_model_still_gives_input_gradient_when_asked():
    net = small_cnn(np.float64).eval().requires_grad_(False)
    x = randn((2, 1, 8, 8))
    y = net(x)
    gx = net.backward(np.ones_like(y), need_input_grad=True)
    assert gx.shape == x.shape and np.abs(gx).sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_backward_twice_or_without_forward_raises():
    lin = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="forward"):
        lin.backward(np.ones((1, 2), np.float32))
    lin(np.ones((1, 2), np.float32))
    lin.backward(np.ones((1, 2), np.float32))
    with pytest.raises(RuntimeError, match="forward"):
        lin.backward(np.ones((1, 2), np.float32))


def test_none_gradient_from_above_is_explained():
    seq = nn.Sequential(nn.Linear(2, 2))
    seq(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match="need_input_grad"):
        seq.backward(None)


# ---- no_grad -----------------------------------------------------------------------------------

def test_no_grad_caches_nothing_and_backward_raises():
    net = small_cnn()
    x = randn((2, 1, 8, 8), np.float32)
    with fastconv.no_grad():
        assert not fastconv.is_grad_enabled()
        y = net(x)
    assert fastconv.is_grad_enabled()
    assert all(m._ctx is None for m in net.modules())
    with pytest.raises(RuntimeError, match="no_grad"):
        net.backward(np.ones_like(y))
    y2 = net(x)
    np.testing.assert_array_equal(y, y2)


def test_no_grad_as_decorator_nesting_and_threads():
    @fastconv.no_grad()
    def infer():
        return fastconv.is_grad_enabled()
    assert infer() is False and fastconv.is_grad_enabled()
    with fastconv.no_grad():
        with fastconv.enable_grad():
            assert fastconv.is_grad_enabled()
        assert not fastconv.is_grad_enabled()
        seen = []
        t = threading.Thread(target=lambda: seen.append(fastconv.is_grad_enabled()))
        t.start()
        t.join()
        assert seen == [True]  # the flag is per thread
    assert fastconv.is_grad_enabled()
    with pytest.raises(KeyError):
        with fastconv.no_grad():
            raise KeyError
    assert fastconv.is_grad_enabled()


# ---- state_dict ----------------------------------------------------------------------------------

def test_state_dict_keys_like_torch_and_values_are_copies():
    net = small_cnn()
    sd = net.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias",
                        "4.running_mean", "4.running_var", "4.num_batches_tracked",
                        "8.weight", "8.bias", "10.weight", "10.bias"]
    assert sd["4.num_batches_tracked"].dtype == np.int64 and sd["4.num_batches_tracked"].shape == ()
    sd["0.weight"][...] = 0
    assert np.abs(net[0].weight.data).sum() > 0


def test_load_state_dict_round_trip():
    a, b = small_cnn(), small_cnn()
    fastconv.manual_seed(5)
    for p in b.parameters():
        p.data[...] = np.random.default_rng(1).standard_normal(p.shape)
    b[4].running_mean[...] = 3
    b[4].num_batches_tracked[...] = 7
    result = a.load_state_dict(b.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb
        np.testing.assert_array_equal(va, vb, err_msg=ka)


def test_load_state_dict_casts_into_existing_dtype_and_keeps_arrays():
    net = small_cnn()
    w = net[0].weight.data
    sd = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in net.state_dict().items()}
    sd["0.weight"] = sd["0.weight"] + 1
    net.load_state_dict(sd)
    assert net[0].weight.data is w and w.dtype == np.float32
    np.testing.assert_allclose(w, sd["0.weight"].astype(np.float32))


def _snapshot(net):
    return {k: v.copy() for k, v in net.state_dict().items()}


def test_load_state_dict_missing_and_unexpected_keys_change_nothing():
    net = small_cnn()
    before = _snapshot(net)
    sd = {k: v + 1 for k, v in net.state_dict().items()}
    del sd["3.bias"]
    sd["extra.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert 'Missing key(s) in state_dict: "3.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["3.bias"] and result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(net[0].weight.data, before["0.weight"] + 1)
    np.testing.assert_array_equal(net[3].bias.data, before["3.bias"])


def test_load_state_dict_wrong_shape_names_the_key_and_changes_nothing():
    net = small_cnn()
    before = _snapshot(net)
    sd = {k: v + 1 for k, v in net.state_dict().items()}
    sd["8.weight"] = np.zeros((16, 33), np.float32)
    for strict in (True, False):
        with pytest.raises(ValueError, match=r"8\.weight.*\(16, 33\).*\(16, 32\)"):
            net.load_state_dict(sd, strict=strict)
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_without_num_batches_tracked_is_accepted():
    net = small_cnn()
    sd = net.state_dict()
    del sd["4.num_batches_tracked"]
    assert net.load_state_dict(sd).missing_keys == []


def test_load_state_dict_rejects_non_mappings_and_non_numeric_values():
    net = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="state_dict"):
        net.load_state_dict([("weight", np.zeros((2, 2)))])
    with pytest.raises(ValueError, match="weight"):
        net.load_state_dict({"weight": np.array([["a", "b"], ["c", "d"]]), "bias": np.zeros(2)})


def test_state_dict_matches_torch_keys_and_loads_torch_weights():
    torch = pytest.importorskip("torch")
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(32, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, 10))
    net = small_cnn()
    assert list(tnet.state_dict()) == list(net.state_dict())
    net.load_state_dict(tnet.state_dict())  # torch tensors are accepted as they are
    tnet.eval()
    net.eval()
    x = randn((3, 1, 8, 8), np.float32)
    with torch.no_grad():
        expected = tnet(torch.from_numpy(x)).numpy()
    assert_close(net(x), expected, np.float32, rtol=1e-5)
    # recent torch adds 'bias=True' to BatchNorm's repr; everything else must read the same
    assert repr(net) == repr(tnet).replace("affine=True, bias=True,", "affine=True,")


# ---- modes, dtype, repr, apply -----------------------------------------------------------------

def test_train_eval_propagate():
    net = small_cnn()
    assert net.training and net[4].training
    assert net.eval() is net and not net[4].training
    net.train()
    assert net[4].training
    with pytest.raises(ValueError):
        net.train("no")


def test_to_double_and_float():
    net = small_cnn()
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net[4].running_var.dtype == np.float64 and net[4].num_batches_tracked.dtype == np.int64
    y = net(randn((2, 1, 8, 8)))
    assert y.dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.to("cpu") is net
    with pytest.raises(TypeError):
        net.to(np.int32)


def test_double_of_uninitialised_weights_keeps_nan_quietly():
    # weights never initialised can hold a signalling NaN; widening keeps it a NaN and
    # NumPy's "invalid value encountered in cast" would only be noise in the user's log
    lin = nn.Linear(2, 2)
    lin.weight.data[0, 0] = np.array([0x7F800001], dtype=np.uint32).view(np.float32)[0]
    with np.errstate(invalid="raise"):
        lin.double()
    assert lin.weight.dtype == np.float64 and np.isnan(lin.weight.data[0, 0])
    assert np.isfinite(lin.weight.data.ravel()[1:]).all()


def test_requires_grad_and_apply():
    net = small_cnn()
    net.requires_grad_(False)
    assert not net.has_trainable_parameters()
    net[-1].requires_grad_()
    assert net.has_trainable_parameters()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen[0] == "Conv2d" and len(seen) == 12


def test_repr_like_torch():
    net = Net()
    text = repr(net)
    assert text == (
        "Net(\n"
        "  (features): Sequential(\n"
        "    (0): Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1))\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (fc): Linear(in_features=4, out_features=2, bias=True)\n"
        ")")
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.BatchNorm2d(3)) == "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    assert repr(nn.Conv2d(3, 4, 1, bias=False)) == "Conv2d(3, 4, kernel_size=(1, 1), stride=(1, 1), bias=False)"
    assert "Parameter containing" in repr(net.scale)


def test_parameter_basics():
    p = nn.Parameter(np.zeros((2, 3), np.float32))
    assert p.shape == (2, 3) and p.dtype == np.float32 and p.grad is None and p.requires_grad
    assert np.asarray(p) is p.data
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.zeros(3, np.int64))
    assert nn.Parameter(np.zeros(3, np.int64), requires_grad=False).dtype == np.int64


def test_forward_hooks_and_removal():
    net = small_cnn()
    seen = []
    handle = net[3].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    pre = net[0].register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    y = net(randn((2, 1, 8, 8), np.float32))
    assert seen == [(2, 8, 4, 4)]
    handle.remove()
    pre.remove()
    net(randn((2, 1, 8, 8), np.float32))
    assert len(seen) == 1
    with net[-1].register_forward_hook(lambda m, a, out: out * 0):
        assert np.all(net(randn((2, 1, 8, 8), np.float32)) == 0)
    assert np.any(net(randn((2, 1, 8, 8), np.float32)) != 0)
    assert y.shape == (2, 10)


def test_deepcopy_and_pickle_give_independent_equal_models():
    import copy
    import pickle
    net = small_cnn()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone[0].weight.data is not net[0].weight.data
        for (k, a), b in zip(net.state_dict().items(), clone.state_dict().values()):
            np.testing.assert_array_equal(a, b, err_msg=k)
        x = randn((2, 1, 8, 8), np.float32)
        np.testing.assert_array_equal(clone.eval()(x), net.eval()(x))


def test_nn_functional_alias():
    import fastconv.nn.functional as F
    assert F.conv2d is fastconv.functional.conv2d and F.cross_entropy is fastconv.functional.cross_entropy


def test_set_grad_enabled_function_and_context():
    from fastconv._grad_mode import set_grad_enabled
    with set_grad_enabled(False):
        assert not fastconv.is_grad_enabled()
        with set_grad_enabled(True):
            assert fastconv.is_grad_enabled()
        assert not fastconv.is_grad_enabled()
    assert fastconv.is_grad_enabled()
    set_grad_enabled(False)
    try:
        assert not fastconv.is_grad_enabled()
    finally:
        set_grad_enabled(True)
    assert fastconv.is_grad_enabled()
