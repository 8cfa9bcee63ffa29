"""Every layer: forward and backward against fastconv.reference, and backward against finite
differences in float64 (input and every parameter)."""
import numpy as np
import pytest

import fastconv
from fastconv import nn
from fastconv import reference as R
from helpers import assert_close, numerical_grad, randn


def _perturbable(module, x, grad_y, reset=None):
    """L(x) = sum(module(x) * grad_y), evaluated without caching."""
    def f(xv):
        if reset:
            reset()
        with fastconv.no_grad():
            return float(np.sum(module(xv) * grad_y))
    return f


def check_module_grads(module, x, *, reset=None, rtol=1e-6, atol=1e-9, seed=1):
    """Analytic gradients of input and parameters vs central finite differences (float64)."""
    if reset:
        reset()
    y = module(x)
    grad_y = randn(y.shape, seed=seed)
    module.zero_grad()
    gx = module.backward(grad_y, need_input_grad=True)
    f = _perturbable(module, x, grad_y, reset)
    assert_close(gx, numerical_grad(f, x), np.float64, rtol=rtol, atol=atol, msg="input gradient")
    for name, p in module.named_parameters():
        saved = p.data.copy()

        def fp(pv, p=p):
            p.data[...] = pv
            return f(x)
        expected = numerical_grad(fp, saved)
        p.data[...] = saved
        assert p.grad is not None, f"{name} has no gradient"
        assert_close(p.grad, expected, np.float64, rtol=rtol, atol=atol, msg=f"gradient of {name}")


# ---- Conv2d ------------------------------------------------------------------------------------

CONV_CASES = [
    # (N, C, H, W, K, kernel, stride, padding, bias)
    (2, 2, 5, 4, 3, 3, 1, 1, True),
    (1, 2, 6, 7, 3, (2, 3), (2, 1), (0, 1), False),
    (2, 3, 3, 3, 2, 1, 1, 0, True),
    (1, 1, 4, 4, 2, 3, 3, 2, True),  # stride > kernel - padding
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_gradients_by_finite_differences(case):
    N, C, H, W, K, k, s, p, bias = case
    fastconv.manual_seed(0)
    # the direct kernel: fastest on these tiny shapes (the algorithms are compared below)
    conv = nn.Conv2d(C, K, k, stride=s, padding=p, bias=bias, dtype=np.float64, algo="direct")
    check_module_grads(conv, randn((N, C, H, W), seed=2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algo", ["auto", "direct", "im2col"])
def test_conv2d_matches_reference(dtype, algo):
    fastconv.manual_seed(1)
    conv = nn.Conv2d(3, 5, 3, stride=(1, 2), padding=1, algo=algo, dtype=dtype)
    x = randn((2, 3, 9, 8), dtype, seed=3)
    y = conv(x)
    assert y.dtype == dtype
    assert_close(y, R.conv2d(x, conv.weight.data, conv.bias.data, (1, 2), 1), dtype)
    gy = randn(y.shape, dtype, seed=4)
    gx = conv.backward(gy, need_input_grad=True)
    rgx, rgw, rgb = R.conv2d_backward(gy, x, conv.weight.data, (1, 2), 1)
    assert_close(gx, rgx, dtype)
    assert_close(conv.weight.grad, rgw, dtype)
    assert_close(conv.bias.grad, rgb, dtype)


def test_conv2d_init_matches_torch_bounds():
    fastconv.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3)
    fan_in = 16 * 9
    bound = 1 / np.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    assert conv.weight.dtype == np.float32 and conv.weight.shape == (32, 16, 3, 3)
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound
    assert np.abs(conv.bias.data).max() <= bound
    assert abs(conv.weight.data.std() - bound / np.sqrt(3)) < 0.05 * bound


def test_manual_seed_makes_initialisation_repeatable():
    fastconv.manual_seed(123)
    a = nn.Conv2d(2, 3, 3).weight.data.copy()
    fastconv.manual_seed(123)
    b = nn.Conv2d(2, 3, 3).weight.data.copy()
    c = nn.Conv2d(2, 3, 3).weight.data.copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_conv2d_lecture_parameter_count():
    # the lecture's first VGG layer: 3x3x3 kernels, 64 filters -> 1,728 weights + 64 biases
    conv = nn.Conv2d(3, 64, 3, padding=1)
    assert sum(p.size for p in conv.parameters()) == 1792


def test_conv2d_frozen_weight_gets_no_gradient():
    fastconv.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, dtype=np.float64)
    conv.weight.requires_grad = False
    x = randn((1, 2, 5, 5))
    y = conv(x)
    gx = conv.backward(np.ones_like(y), need_input_grad=True)
    assert conv.weight.grad is None and conv.bias.grad is not None
    assert_close(gx, R.conv2d_backward(np.ones_like(y), x, conv.weight.data)[0])


# ---- pooling -----------------------------------------------------------------------------------

POOL_CASES = [((2, 3, 7, 6), 2, None, 0, False), ((1, 2, 7, 7), 3, 2, 1, True),
              ((1, 1, 5, 8), (2, 3), (1, 2), (1, 1), False)]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_matches_reference_and_finite_differences(case):
    shape, k, s, p, ceil = case
    pool = nn.MaxPool2d(k, s, p, ceil_mode=ceil)
    x = randn(shape, seed=5)
    y = pool(x)
    assert_close(y, R.max_pool2d(x, k, s, p, ceil_mode=ceil))
    gy = randn(y.shape, seed=6)
    gx = pool.backward(gy, need_input_grad=True)
    _, idx = R.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
    assert_close(gx, R.max_pool2d_backward(gy, idx, x.shape))
    check_module_grads(pool, x)


def test_max_pool_lecture_example():
    # 4x4 input, 2x2 max pooling with stride 2 -> the maximum of each quadrant
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float32)[None, None]
    pool = nn.MaxPool2d(2, 2)
    np.testing.assert_array_equal(pool(x)[0, 0], [[6, 8], [3, 4]])
    gx = pool.backward(np.ones((1, 1, 2, 2), np.float32), need_input_grad=True)
    np.testing.assert_array_equal(gx[0, 0], [[0, 0, 0, 0], [0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 1]])


def test_max_pool_return_indices():
    pool = nn.MaxPool2d(2, return_indices=True)
    x = randn((1, 2, 4, 4), seed=1)
    with fastconv.no_grad():
        y, idx = pool(x)
    ry, ridx = R.max_pool2d(x, 2, return_indices=True)
    assert_close(y, ry)
    np.testing.assert_array_equal(idx, ridx)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_matches_reference_and_finite_differences(case, count_include_pad):
    shape, k, s, p, ceil = case
    pool = nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=count_include_pad)
    x = randn(shape, seed=7)
    y = pool(x)
    kw = dict(ceil_mode=ceil, count_include_pad=count_include_pad)
    assert_close(y, R.avg_pool2d(x, k, s, p, **kw))
    gy = randn(y.shape, seed=8)
    gx = pool.backward(gy, need_input_grad=True)
    assert_close(gx, R.avg_pool2d_backward(gy, x.shape, k, s, p, **kw))
    check_module_grads(pool, x)


@pytest.mark.parametrize("out", [1, (2, 3), (None, 2), 3])
def test_adaptive_avg_pool(out):
    pool = nn.AdaptiveAvgPool2d(out)
    x = randn((2, 3, 7, 5), seed=9)
    y = pool(x)
    size = (out, out) if isinstance(out, int) else (7 if out[0] is None else out[0], out[1])
    assert y.shape == (2, 3) + size
    assert_close(y, R.adaptive_avg_pool2d(x, size))
    check_module_grads(pool, x)


# ---- dense layers ------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xshape", [(4, 5), (2, 3, 5)])
def test_linear(bias, xshape):
    fastconv.manual_seed(3)
    lin = nn.Linear(5, 3, bias=bias, dtype=np.float64)
    x = randn(xshape, seed=10)
    y = lin(x)
    assert_close(y, R.linear(x, lin.weight.data, lin.bias.data if bias else None))
    gy = randn(y.shape, seed=11)
    gx = lin.backward(gy, need_input_grad=True)
    rgx, rgw, rgb = R.linear_backward(gy, x, lin.weight.data)
    assert_close(gx, rgx)
    assert_close(lin.weight.grad, rgw)
    if bias:
        assert_close(lin.bias.grad, rgb)
    check_module_grads(lin, x)


def test_linear_float32_matches_reference():
    fastconv.manual_seed(0)
    lin = nn.Linear(7, 4)
    x = randn((6, 7), np.float32, seed=1)
    y = lin(x)
    assert y.dtype == np.float32
    assert_close(y, R.linear(x, lin.weight.data, lin.bias.data))


def test_linear_init_bounds():
    fastconv.manual_seed(0)
    lin = nn.Linear(100, 50)
    assert np.abs(lin.weight.data).max() <= 0.1 and np.abs(lin.bias.data).max() <= 0.1
    assert np.abs(lin.weight.data).max() > 0.09


def test_relu_and_inplace():
    x = randn((3, 4), seed=12)
    relu = nn.ReLU()
    y = relu(x)
    assert_close(y, R.relu(x))
    gy = randn(y.shape, seed=13)
    assert_close(relu.backward(gy, need_input_grad=True), R.relu_backward(gy, x))
    check_module_grads(relu, x)
    x2 = x.copy()
    y2 = nn.ReLU(inplace=True)(x2)
    assert y2 is x2 and (x2 >= 0).all()


@pytest.mark.parametrize("cls,ref", [(nn.Sigmoid, lambda x: 1 / (1 + np.exp(-x))), (nn.Tanh, np.tanh)])
def test_sigmoid_tanh(cls, ref):
    x = randn((3, 4), seed=14, scale=3)
    m = cls()
    assert_close(m(x), ref(x))
    check_module_grads(m, x)


def test_sigmoid_extreme_inputs_do_not_overflow():
    with np.errstate(over="raise"):
        y = nn.Sigmoid()(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("dim", [1, -1, 0])
def test_softmax_and_log_softmax(dim):
    x = randn((3, 4, 2), seed=15, scale=3)
    sm, lsm = nn.Softmax(dim), nn.LogSoftmax(dim)
    assert_close(sm(x), R.softmax(x, dim))
    assert_close(lsm(x), R.log_softmax(x, dim))
    check_module_grads(sm, x)
    check_module_grads(lsm, x)


def test_softmax_is_stable_for_large_logits():
    x = np.array([[1000.0, 1000.0, -1000.0]])
    y = nn.Softmax(dim=1)(x)
    np.testing.assert_allclose(y, [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(x)[0, :2], [-np.log(2)] * 2)


def test_flatten_and_identity():
    x = randn((2, 3, 4, 5), seed=16)
    fl = nn.Flatten()
    y = fl(x)
    assert y.shape == (2, 60)
    g = fl.backward(y * 2, need_input_grad=True)
    assert g.shape == x.shape and np.array_equal(g, x * 2)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    ident = nn.Identity(54, unused="argument")
    assert ident(x) is x
    assert ident.backward(x, need_input_grad=True) is x
    with pytest.raises(ValueError, match="start_dim"):
        nn.Flatten(3, 1)(x)


# ---- dropout -----------------------------------------------------------------------------------

def test_dropout_train_eval_and_gradient():
    x = np.ones((200, 50))
    d = nn.Dropout(0.3, generator=np.random.default_rng(0))
    y = d(x)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    g = d.backward(np.ones_like(x), need_input_grad=True)
    np.testing.assert_array_equal(g, y)  # same mask and scale
    d.eval()
    assert d(x) is x
    assert d.backward(x, need_input_grad=True) is x


def test_dropout_finite_differences_with_a_fixed_mask():
    d = nn.Dropout(0.5)
    x = randn((4, 6), seed=17)

    def reset():
        d.generator = np.random.default_rng(42)
    check_module_grads(d, x, reset=reset)


def test_dropout_follows_manual_seed():
    d = nn.Dropout(0.5)
    x = np.ones((10, 10), np.float32)
    fastconv.manual_seed(7)
    a = d(x)
    fastconv.manual_seed(7)
    b = d(x)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32


def test_dropout_p_limits():
    x = randn((3, 3), seed=1)
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x), 0)
    with pytest.raises(ValueError, match="p"):
        nn.Dropout(1.5)


# ---- argument validation -----------------------------------------------------------------------

def test_layer_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match="in_channels"):
        nn.Conv2d(0, 3, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(1, 3, "3")
    with pytest.raises(ValueError, match="stride"):
        nn.Conv2d(1, 3, 3, stride=0)
    with pytest.raises(TypeError, match="dtype"):
        nn.Conv2d(1, 3, 3, dtype=np.int32)
    with pytest.raises(ValueError, match="out_features"):
        nn.Linear(3, -1)
    with pytest.raises(ValueError, match="dilation"):
        nn.MaxPool2d(2, dilation=2)
    with pytest.raises(ValueError, match="output_size"):
        nn.AdaptiveAvgPool2d(0)


def test_forward_errors_name_the_argument():
    lin = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="x"):
        lin(np.ones((3, 5), np.float32))
    with pytest.raises(TypeError, match="dtype|float"):
        lin(np.ones((3, 4), np.float64))
    conv = nn.Conv2d(3, 2, 3)
    with pytest.raises((ValueError, TypeError)):
        conv(np.ones((1, 2, 5, 5), np.float32))


def test_relu_nan_like_torch():
    x = np.array([np.nan, -1.0, 2.0])
    relu = nn.ReLU()
    y = relu(x)
    assert np.isnan(y[0]) and y[1] == 0 and y[2] == 2
    g = relu.backward(np.ones(3), need_input_grad=True)
    np.testing.assert_array_equal(g, R.relu_backward(np.ones(3), x))


def test_frozen_linear_and_batchnorm_compute_only_what_is_needed():
    fastconv.manual_seed(0)
    lin = nn.Linear(4, 3, dtype=np.float64)
    lin.weight.requires_grad_(False)
    x = randn((5, 4))
    lin(x)
    assert lin.backward(np.ones((5, 3))) is None
    assert lin.weight.grad is None and lin.bias.grad is not None
    bn = nn.BatchNorm2d(2, dtype=np.float64).requires_grad_(False)
    bn(randn((2, 2, 3, 3)))
    assert bn.backward(np.ones((2, 2, 3, 3))) is None
    assert bn.weight.grad is None and bn.bias.grad is None


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Conv2d(2, 3, 3, dtype=np.float64), (1, 2, 5, 5)),
    (lambda: nn.Linear(4, 3, dtype=np.float64), (2, 4)),
    (lambda: nn.BatchNorm2d(2, dtype=np.float64), (2, 2, 3, 3)),
    (lambda: nn.MaxPool2d(2), (1, 2, 4, 4)),
    (lambda: nn.ReLU(), (2, 3)),
])
def test_backward_with_a_wrong_gradient_shape_raises(make, shape):
    m = make()
    y = m(randn(shape))
    bad = np.ones(y.shape[:-1] + (y.shape[-1] + 1,))
    with pytest.raises(ValueError):
        m.backward(bad, need_input_grad=True)
    y = m(randn(shape))
    with pytest.raises(TypeError, match="grad_out"):
        m.backward([[1.0]], need_input_grad=True)


def test_conv2d_same_valid_padding_and_torch_only_arguments():
    x = randn((1, 2, 7, 6), np.float32)
    conv = nn.Conv2d(2, 3, (3, 5), padding="same")
    assert conv.padding == (1, 2) and conv(x).shape == (1, 3, 7, 6)
    assert "padding=same" in repr(conv)
    assert nn.Conv2d(2, 3, 3, padding="valid")(x).shape == (1, 3, 5, 4)
    with pytest.raises(ValueError, match="same"):
        nn.Conv2d(2, 3, 2, padding="same")
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2d(2, 3, 3, padding="full")
    nn.Conv2d(2, 3, 3, dilation=1, groups=1, padding_mode="zeros")
    with pytest.raises(ValueError, match="groups"):
        nn.Conv2d(2, 4, 3, groups=2)
    with pytest.raises(ValueError, match="dilation"):
        nn.Conv2d(2, 4, 3, dilation=2)
