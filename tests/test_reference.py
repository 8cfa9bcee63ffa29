"""The oracle checked three ways: against values computed by hand (many from the lecture),
against torch.nn.functional when torch is installed, and its backward functions against
finite differences in float64. Everything else in the suite trusts fastconv.reference."""
import itertools

import numpy as np
import pytest

from fastconv import reference as R
from helpers import assert_close, check_grad, randn, rng


# ---- hand-computed values -------------------------------------------------------------------

def test_lecture_layer_has_1792_parameters_and_expected_shapes():
    # "3 x 3 x 3 x 64 + 64 = 1792": a 3x3 conv from RGB to 64 channels.
    weight, bias = randn((64, 3, 3, 3), seed=1), randn(64, seed=2)
    assert weight.size + bias.size == 1792
    x = randn((2, 3, 32, 32), seed=3)
    assert R.conv2d(x, weight, bias).shape == (2, 64, 30, 30)
    assert R.conv2d(x, weight, bias, padding=1).shape == (2, 64, 32, 32)
    assert R.conv2d(x, weight, bias, stride=2, padding=1).shape == (2, 64, 16, 16)
    # one output written out as the lecture's triple sum
    y = R.conv2d(x, weight, bias, stride=2, padding=1)
    n, k, i, j, s = 1, 17, 5, 9, 2
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = bias[k] + sum(xp[n, c, i * s + u, j * s + v] * weight[k, c, u, v]
                             for c in range(3) for u in range(3) for v in range(3))
    assert abs(y[n, k, i, j] - expected) < 1e-12


def test_conv_by_hand_diagonal_difference():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)            # 1 2 3 / 4 5 6 / 7 8 9
    k = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])             # x[i,j] - x[i+1,j+1]
    assert_close(R.conv2d(x, k), np.full((1, 1, 2, 2), -4.0))
    # stride 2, padding 1: windows at padded (0,0), (0,2), (2,0), (2,2)
    #   (0,0): 0 - x[0,0] = -1   (0,2): 0 - x[0,2] = -3   (2,0): 0 - x[2,0] = -7   (2,2): x[1,1] - x[2,2] = -4
    assert_close(R.conv2d(x, k, stride=2, padding=1), np.array([[[[-1.0, -3.0], [-7.0, -4.0]]]]))


def test_conv_non_square_kernel_stride_and_padding_by_hand():
    x = np.arange(12.0).reshape(1, 1, 3, 4)                  # rows 0..3, 4..7, 8..11
    k = np.ones((1, 1, 1, 3))                                # sum of 3 horizontal neighbours
    y = R.conv2d(x, k, bias=np.array([0.5]), stride=(2, 1), padding=(0, 1))
    expected = np.array([[[[1, 3, 6, 5], [17, 27, 30, 21]]]]) + 0.5
    assert_close(y, expected)


def test_conv_two_input_channels_sum():
    # output channel = 2 * channel0 - channel1, a 1x1 conv is a per-pixel dense layer
    x = randn((2, 2, 4, 5), seed=4)
    w = np.array([2.0, -1.0]).reshape(1, 2, 1, 1)
    assert_close(R.conv2d(x, w)[:, 0], 2 * x[:, 0] - x[:, 1])


def test_1x1_conv_is_a_dense_layer_on_every_pixel():
    # the lecture's fully convolutional trick: Y[i,j] = sum_c X[i,j,c] K[0,0,c] + b
    x, w, b = randn((2, 6, 3, 4), seed=5), randn((5, 6), seed=6), randn(5, seed=7)
    y = R.conv2d(x, w[:, :, None, None], b)
    dense = R.linear(x.transpose(0, 2, 3, 1), w, b).transpose(0, 3, 1, 2)
    assert_close(y, dense)


def test_two_stacked_3x3_convs_see_a_5x5_receptive_field():
    x = randn((1, 1, 9, 9), seed=8)
    k = np.ones((1, 1, 3, 3))
    y1 = R.conv2d(x, k)
    grad_y2 = np.zeros((1, 1, 5, 5))
    grad_y2[0, 0, 2, 2] = 1.0                                 # centre output of the second conv
    grad_y1, _, _ = R.conv2d_backward(grad_y2, y1, k)
    grad_x, _, _ = R.conv2d_backward(grad_y1, x, k)
    support = np.argwhere(grad_x[0, 0] != 0)
    assert support.min(axis=0).tolist() == [2, 2] and support.max(axis=0).tolist() == [6, 6]


# The lecture's 4x4 max-pool example (seeds/*.txt is an OCR of the slide, its digits partly
# garbled): the input rows read 1 3 2 4 / 2 5 1 3 / 4 1 2 6 / 3 1 2 5, pooled 2x2 with stride 2.
LECTURE_POOL_INPUT = np.array([[1, 3, 2, 4], [2, 5, 1, 3], [4, 1, 2, 6], [3, 1, 2, 5]], dtype=float)


def test_lecture_max_pool_example():
    y, idx = R.max_pool2d(LECTURE_POOL_INPUT[None, None], 2, return_indices=True)
    assert_close(y[0, 0], np.array([[5.0, 4.0], [4.0, 6.0]]))
    # flat positions h*4 + w of the maxima: (1,1), (0,3), (2,0), (2,3)
    assert idx[0, 0].tolist() == [[5, 3], [8, 11]]
    gx = R.max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), idx, (1, 1, 4, 4))
    expected = np.zeros((4, 4))
    expected[1, 1], expected[0, 3], expected[2, 0], expected[2, 3] = 1, 2, 3, 4
    assert_close(gx[0, 0], expected)


def test_lecture_example_average_pool_and_padding_divisors():
    x = LECTURE_POOL_INPUT[None, None]
    assert_close(R.avg_pool2d(x, 2)[0, 0], np.array([[11 / 4, 10 / 4], [9 / 4, 15 / 4]]))
    # 3x3 window, stride 3, padding 1: the corner window covers x[0:2, 0:2] = 1+3+2+5 = 11
    with_pad = R.avg_pool2d(x, 3, stride=3, padding=1)
    without = R.avg_pool2d(x, 3, stride=3, padding=1, count_include_pad=False)
    assert with_pad[0, 0, 0, 0] == pytest.approx(11 / 9)
    assert without[0, 0, 0, 0] == pytest.approx(11 / 4)


def test_overlapping_max_pool_backward_accumulates():
    x = np.array([[[[0.0, 9.0, 0.0]]]])                        # the 9 is in both windows
    y, idx = R.max_pool2d(x, (1, 2), stride=1, return_indices=True)
    assert y.tolist() == [[[[9.0, 9.0]]]] and idx.tolist() == [[[[1, 1]]]]
    assert R.max_pool2d_backward(np.ones((1, 1, 1, 2)), idx, x.shape).tolist() == [[[[0.0, 2.0, 0.0]]]]


def test_max_pool_nan_ties_and_infinities_follow_torch():
    x = np.array([[[[1.0, np.nan, 3.0, np.nan],
                    [3.0, 2.0, 3.0, 0.0],
                    [-np.inf, -np.inf, 7.0, 7.0],
                    [-np.inf, -np.inf, 7.0, 7.0]]]])
    y, idx = R.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y[0, 0, 0, 1])
    assert idx[0, 0].tolist() == [[1, 3], [8, 10]]             # NaN wins; -inf -> first; tie -> first
    assert y[0, 0, 1].tolist() == [-np.inf, 7.0]


def test_output_size_rules():
    assert R.conv_output_size(224, 3, 1, 1) == 224
    assert R.conv_output_size(7, 3, 2, 0) == 3
    assert R.pool_output_size(5, 2, 2) == 2
    assert R.pool_output_size(5, 2, 2, ceil_mode=True) == 3
    assert R.pool_output_size(6, 2, 2, ceil_mode=True) == 3
    # ceil would give 4, but the 4th window would start in the right padding: dropped
    assert R.pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3
    assert R.max_pool2d(np.zeros((1, 1, 5, 5)), 2, ceil_mode=True).shape == (1, 1, 3, 3)


def test_ceil_mode_allows_a_kernel_larger_than_the_input_like_torch():
    # torch: 1x1 input, 2x2 window, ceil_mode -> one window clipped to the input (divisor 1)
    x = np.full((1, 1, 1, 1), 4.0)
    assert R.max_pool2d(x, 2, ceil_mode=True).tolist() == [[[[4.0]]]]
    assert R.avg_pool2d(x, 2, ceil_mode=True).tolist() == [[[[4.0]]]]
    assert R.avg_pool2d(np.ones((1, 1, 3, 3)), 2, ceil_mode=True).tolist() == [[[[1.0, 1.0], [1.0, 1.0]]]]


def test_conv_fused_relu_and_partial_gradients():
    x, w, b = randn((1, 2, 4, 4), seed=9), randn((3, 2, 3, 3), seed=10), randn(3, seed=11)
    assert_close(R.conv2d(x, w, b, relu=True), R.relu(R.conv2d(x, w, b)))
    gy = randn((1, 3, 2, 2), seed=12)
    full = R.conv2d_backward(gy, x, w)
    gx, gw, gb = R.conv2d_backward(gy, x, w, need_input_grad=False, need_bias_grad=False)
    assert gx is None and gb is None
    assert_close(gw, full[1])


def test_adaptive_windows_by_hand():
    x = np.arange(5.0).reshape(1, 1, 1, 5)
    # windows [0,2), [1,4), [3,5) -> means 0.5, 2, 3.5
    assert_close(R.adaptive_avg_pool2d(x, (1, 3)), np.array([[[[0.5, 2.0, 3.5]]]]))
    assert_close(R.adaptive_avg_pool2d(randn((2, 3, 4, 6)), 1)[..., 0, 0],
                 randn((2, 3, 4, 6)).mean(axis=(2, 3)))
    assert R.adaptive_avg_pool2d(np.zeros((1, 1, 4, 6)), (2, None)).shape == (1, 1, 2, 6)


def test_cross_entropy_by_hand():
    logits = np.zeros((2, 2))
    target = np.array([0, 1])
    assert float(R.cross_entropy(logits, target)) == pytest.approx(np.log(2))
    # class weights: mean divides by the weights of the targets, so equal losses stay log 2
    assert float(R.cross_entropy(logits, target, weight=np.array([1.0, 3.0]))) == pytest.approx(np.log(2))
    assert float(R.cross_entropy(logits, target, weight=np.array([1.0, 3.0]), reduction="sum")) \
        == pytest.approx(4 * np.log(2))
    # ignore_index drops the sample from numerator and denominator
    z = np.array([[2.0, 0.0], [0.0, 0.0]])
    loss = float(R.cross_entropy(z, np.array([0, -100])))
    assert loss == pytest.approx(np.log(1 + np.exp(-2.0)))
    # label smoothing 0.5 over 2 classes: target distribution (0.75, 0.25)
    logp = np.log(np.array([np.exp(2.0), 1.0]) / (np.exp(2.0) + 1.0))
    smoothed = float(R.cross_entropy(z[:1], np.array([0]), label_smoothing=0.5))
    assert smoothed == pytest.approx(-(0.75 * logp[0] + 0.25 * logp[1]))
    # gradient of mean CE = (softmax - onehot) / N
    g = R.cross_entropy_backward(logits, target)
    assert_close(g, np.array([[-0.25, 0.25], [0.25, -0.25]]))


def test_batch_norm_running_stats_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(4, 1)           # mean 2.5, biased var 1.25, unbiased 5/3
    y, rm, rv = R.batch_norm(x, np.zeros(1), np.ones(1), training=True, momentum=0.1, eps=0.0)
    assert_close(y[:, 0], (x[:, 0] - 2.5) / np.sqrt(1.25))
    assert_close(rm, np.array([0.25]))
    assert_close(rv, np.array([0.9 + 0.1 * 5 / 3]))
    y_eval, rm2, rv2 = R.batch_norm(x, np.array([1.0]), np.array([4.0]), np.array([2.0]),
                                    np.array([1.0]), training=False, eps=0.0)
    assert_close(y_eval[:, 0], (x[:, 0] - 1.0) / 2.0 * 2.0 + 1.0)
    assert rm2.tolist() == [1.0] and rv2.tolist() == [4.0]


def test_relu_linear_mse_softmax_by_hand():
    assert R.relu(np.array([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 2.0]
    assert R.relu_backward(np.array([5.0, 5.0, 5.0]), np.array([-1.0, 0.0, 2.0])).tolist() == [0, 0, 5]
    w = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.0]])
    assert R.linear(np.array([[1.0, 1.0]]), w, np.array([0.0, 1.0, 2.0])).tolist() == [[3.0, 0.0, 5.0]]
    assert float(R.mse_loss(np.array([1.0, 3.0]), np.array([0.0, 0.0]))) == 5.0
    assert_close(R.softmax(np.array([0.0, np.log(3.0)])), np.array([0.25, 0.75]))


def test_dtype_is_preserved_and_float32_agrees_with_float64():
    x, w = randn((2, 3, 6, 5), seed=11), randn((4, 3, 3, 2), seed=12)
    y64 = R.conv2d(x, w, padding=1)
    y32 = R.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1)
    assert y32.dtype == np.float32 and y64.dtype == np.float64
    assert_close(y32, y64, np.float32)
    assert R.max_pool2d(x.astype(np.float32), 2).dtype == np.float32
    assert R.avg_pool2d(x.astype(np.float32), 2).dtype == np.float32
    gx, gw, gb = R.conv2d_backward(y32, x.astype(np.float32), w.astype(np.float32), padding=1)
    assert gx.dtype == gw.dtype == gb.dtype == np.float32


def test_batch_of_zero_images():
    y = R.conv2d(np.zeros((0, 3, 5, 5)), randn((2, 3, 3, 3)))
    assert y.shape == (0, 2, 3, 3)
    gx, gw, gb = R.conv2d_backward(y, np.zeros((0, 3, 5, 5)), randn((2, 3, 3, 3)))
    assert gx.shape == (0, 3, 5, 5) and not gw.any() and not gb.any()
    assert R.max_pool2d(np.zeros((0, 2, 4, 4)), 2).shape == (0, 2, 2, 2)


def test_bad_arguments_raise():
    x = np.zeros((1, 3, 5, 5))
    with pytest.raises(ValueError, match="input channels"):
        R.conv2d(x, np.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        R.conv2d(x, np.zeros((2, 3, 7, 7)))
    with pytest.raises(TypeError, match="stride"):
        R.conv2d(x, np.zeros((2, 3, 3, 3)), stride=1.5)
    with pytest.raises(ValueError, match="padding"):
        R.max_pool2d(x, 2, padding=2)                          # torch: at most half the kernel
    with pytest.raises(ValueError, match="reduction"):
        R.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="target"):
        R.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))


# ---- finite differences (float64) -----------------------------------------------------------

@pytest.mark.parametrize("stride,padding,kshape", [(1, 0, (3, 3)), ((2, 1), (1, 2), (2, 3)), (3, 1, (2, 2))])
def test_conv2d_backward_finite_differences(stride, padding, kshape):
    x, w, b = randn((2, 3, 5, 6), seed=20), randn((2, 3) + kshape, seed=21), randn(2, seed=22)
    check_grad(lambda x, w, b: R.conv2d(x, w, b, stride, padding),
               lambda gy, x, w, b: R.conv2d_backward(gy, x, w, stride, padding), [x, w, b])


@pytest.mark.parametrize("k,s,p,ceil", [(2, None, 0, False), (3, 2, 1, True), ((3, 2), (1, 2), (1, 0), False)])
def test_pool_backward_finite_differences(k, s, p, ceil):
    x = randn((2, 2, 5, 6), seed=23)
    _, idx = R.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
    check_grad(lambda x: R.max_pool2d(x, k, s, p, ceil_mode=ceil),
               lambda gy, x: R.max_pool2d_backward(gy, idx, x.shape), [x])
    for cip in (True, False):
        check_grad(lambda x: R.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip),
                   lambda gy, x: R.avg_pool2d_backward(gy, x.shape, k, s, p, ceil_mode=ceil,
                                                       count_include_pad=cip), [x])


def test_adaptive_pool_backward_finite_differences():
    x = randn((1, 2, 5, 7), seed=24)
    check_grad(lambda x: R.adaptive_avg_pool2d(x, (3, 4)),
               lambda gy, x: R.adaptive_avg_pool2d_backward(gy, x.shape), [x])


def test_dense_and_activation_backward_finite_differences():
    x, w, b = randn((2, 3, 5), seed=25), randn((4, 5), seed=26), randn(4, seed=27)
    check_grad(R.linear, lambda gy, x, w, b: R.linear_backward(gy, x, w), [x, w, b])
    check_grad(R.relu, lambda gy, x: R.relu_backward(gy, x), [randn((3, 4), seed=28)])
    for dim in (0, -1):
        check_grad(lambda z: R.softmax(z, dim), lambda gy, z: R.softmax_backward(gy, R.softmax(z, dim), dim),
                   [randn((3, 4), seed=29)])
        check_grad(lambda z: R.log_softmax(z, dim),
                   lambda gy, z: R.log_softmax_backward(gy, R.log_softmax(z, dim), dim), [randn((3, 4), seed=30)])


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_backward_finite_differences(training):
    x, g, b = randn((4, 3, 2, 2), seed=31), randn(3, seed=32), randn(3, seed=33)
    rm, rv = randn(3, seed=34), rng(35).uniform(0.5, 2.0, 3)
    check_grad(lambda x, g, b: R.batch_norm(x, rm, rv, g, b, training, 0.1, 1e-3)[0],
               lambda gy, x, g, b: R.batch_norm_backward(gy, x, rm, rv, g, training, 1e-3), [x, g, b])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_backward_finite_differences(reduction):
    z = randn((4, 5, 2), seed=36)
    target = np.array([[0, 4], [-100, 2], [3, 3], [1, -100]])
    weight = rng(37).uniform(0.5, 2.0, 5)
    for kwargs in ({}, {"weight": weight, "label_smoothing": 0.2}):
        check_grad(lambda z: R.cross_entropy(z, target, reduction=reduction, **kwargs),
                   lambda g, z: R.cross_entropy_backward(z, target, reduction=reduction,
                                                         grad_output=g, **kwargs), [z])
    probs = R.softmax(randn((4, 5, 2), seed=38), dim=1)
    check_grad(lambda z: R.cross_entropy(z, probs, weight, reduction=reduction, label_smoothing=0.1),
               lambda g, z: R.cross_entropy_backward(z, probs, weight, reduction=reduction,
                                                     label_smoothing=0.1, grad_output=g), [z])
    t = randn((3, 4), seed=39)
    check_grad(lambda x: R.mse_loss(x, t, reduction), lambda g, x: R.mse_loss_backward(x, t, reduction, g),
               [randn((3, 4), seed=40)])


# ---- against torch --------------------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    """torch's intra-op threads spin on a busy 2-core machine and make these tiny ops ~5x
    slower; use one thread for this module and restore the setting afterwards."""
    try:
        import torch
    except ImportError:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def _leaf(torch, a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _np(t):
    return t.detach().numpy()


CONV_CASES = [  # (N, C, H, W, K, KH, KW, stride, padding)
    (2, 3, 7, 6, 4, 3, 3, 1, 1),
    (1, 5, 9, 8, 3, 3, 2, (2, 1), (1, 0)),
    (2, 1, 5, 5, 2, 5, 5, 1, 2),
    (1, 3, 8, 8, 2, 2, 2, 3, 0),          # stride > kernel: rows never read
    (3, 4, 1, 1, 5, 1, 1, 1, 0),          # 1x1 image, 1x1 kernel
    (1, 2, 6, 7, 3, 1, 3, 2, (0, 1)),
]


@pytest.mark.parametrize("N,C,H,W,K,KH,KW,stride,padding", CONV_CASES)
def test_conv2d_matches_torch(N, C, H, W, K, KH, KW, stride, padding):
    torch = _torch()
    F = torch.nn.functional
    x, w, b = randn((N, C, H, W), seed=50), randn((K, C, KH, KW), seed=51), randn(K, seed=52)
    tx, tw, tb = _leaf(torch, x), _leaf(torch, w), _leaf(torch, b)
    ty = F.conv2d(tx, tw, tb, stride=stride, padding=padding)
    assert_close(R.conv2d(x, w, b, stride, padding), _np(ty))
    gy = randn(ty.shape, seed=53)
    ty.backward(torch.tensor(gy))
    for mine, theirs in zip(R.conv2d_backward(gy, x, w, stride, padding), (tx, tw, tb)):
        assert_close(mine, _np(theirs.grad))


POOL_GRID = [(k, s, p, ceil) for k, s, p, ceil in itertools.product(
    [2, 3, (3, 2)], [None, 1, 2, (2, 3)], [0, 1], [False, True])]


@pytest.mark.parametrize("H,W", [(5, 6), (8, 7), (1, 1)])
def test_pooling_matches_torch_over_a_grid(H, W):
    torch = _torch()
    F = torch.nn.functional
    checked = 0
    for k, s, p, ceil in POOL_GRID:
        kh, kw = R._pair(k, "k")
        try:
            F.max_pool2d(torch.zeros(1, 1, H, W), k, s, p, ceil_mode=ceil)
        except RuntimeError:                                   # torch rejects: so must we
            with pytest.raises(ValueError):
                R.max_pool2d(np.zeros((1, 1, H, W)), k, s, p, ceil_mode=ceil)
            continue
        x = randn((2, 3, H, W), seed=60).round(1)              # rounding makes ties
        x[0, 0, 0, 0] = np.nan
        x[1, 2] = -np.inf
        tx = _leaf(torch, x)
        ty, ti = F.max_pool2d(tx, k, s, p, ceil_mode=ceil, return_indices=True)
        y, idx = R.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
        assert_close(y, _np(ty), msg=f"max_pool2d {k} {s} {p} {ceil}")
        np.testing.assert_array_equal(idx, ti.numpy())
        gy = randn(y.shape, seed=61)
        ty.backward(torch.tensor(gy))
        assert_close(R.max_pool2d_backward(gy, idx, x.shape), _np(tx.grad))
        x = randn((2, 3, H, W), seed=62)
        for cip in (True, False):
            tx = _leaf(torch, x)
            ty = F.avg_pool2d(tx, k, s, p, ceil_mode=ceil, count_include_pad=cip)
            args = dict(ceil_mode=ceil, count_include_pad=cip)
            assert_close(R.avg_pool2d(x, k, s, p, **args), _np(ty), msg=f"avg_pool2d {k} {s} {p} {args}")
            ty.backward(torch.tensor(gy))
            assert_close(R.avg_pool2d_backward(gy, x.shape, k, s, p, **args), _np(tx.grad))
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("H,W,P,Q", [(7, 5, 3, 2), (4, 4, 1, 1), (5, 9, 5, 4), (3, 3, 5, 7)])
def test_adaptive_avg_pool_matches_torch(H, W, P, Q):
    torch = _torch()
    x = randn((2, 3, H, W), seed=70)
    tx = _leaf(torch, x)
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, (P, Q))
    assert_close(R.adaptive_avg_pool2d(x, (P, Q)), _np(ty))
    gy = randn(ty.shape, seed=71)
    ty.backward(torch.tensor(gy))
    assert_close(R.adaptive_avg_pool2d_backward(gy, x.shape), _np(tx.grad))


CE_GRID = list(itertools.product([(6, 4), (3, 4, 2, 3), (5,)], [False, True], [0.0, 0.3],
                                 ["mean", "sum", "none"], [-100, 1]))


@pytest.mark.parametrize("shape,weighted,smoothing,reduction,ignore_index", CE_GRID)
def test_cross_entropy_matches_torch(shape, weighted, smoothing, reduction, ignore_index):
    torch = _torch()
    F = torch.nn.functional
    C = shape[1] if len(shape) > 1 else shape[0]
    z = randn(shape, seed=80)
    target = rng(81).integers(0, C, shape[:1] + shape[2:] if len(shape) > 1 else ())
    if target.ndim:
        target.flat[0] = ignore_index                        # at least one ignored sample
    weight = rng(82).uniform(0.5, 2.0, C) if weighted else None
    tz = _leaf(torch, z)
    tl = F.cross_entropy(tz, torch.tensor(target), weight=None if weight is None else torch.tensor(weight),
                         ignore_index=ignore_index, label_smoothing=smoothing, reduction=reduction)
    args = (weight, ignore_index, reduction, smoothing)        # torch's positional order
    assert_close(R.cross_entropy(z, target, *args), _np(tl))
    g = randn(tl.shape, seed=83)
    tl.backward(torch.tensor(g))
    assert_close(R.cross_entropy_backward(z, target, *args, grad_output=g), _np(tz.grad))


@pytest.mark.parametrize("weighted,smoothing,reduction",
                         itertools.product([False, True], [0.0, 0.2], ["mean", "sum", "none"]))
def test_cross_entropy_probability_targets_match_torch(weighted, smoothing, reduction):
    torch = _torch()
    z, probs = randn((4, 5, 3), seed=84), R.softmax(randn((4, 5, 3), seed=85), dim=1)
    weight = rng(86).uniform(0.5, 2.0, 5) if weighted else None
    tz = _leaf(torch, z)
    tl = torch.nn.functional.cross_entropy(
        tz, torch.tensor(probs), weight=None if weight is None else torch.tensor(weight),
        label_smoothing=smoothing, reduction=reduction)
    assert_close(R.cross_entropy(z, probs, weight, label_smoothing=smoothing, reduction=reduction), _np(tl))
    g = randn(tl.shape, seed=87)
    tl.backward(torch.tensor(g))
    assert_close(R.cross_entropy_backward(z, probs, weight, label_smoothing=smoothing,
                                          reduction=reduction, grad_output=g), _np(tz.grad))


def test_cross_entropy_all_ignored_is_nan_like_torch():
    torch = _torch()
    z, t = randn((2, 3), seed=88), np.array([-100, -100])
    expected = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(t))
    assert np.isnan(float(R.cross_entropy(z, t))) and torch.isnan(expected)


@pytest.mark.parametrize("shape", [(5, 3), (3, 4, 3, 2), (2, 3, 7)])
@pytest.mark.parametrize("training,affine", itertools.product([True, False], [True, False]))
def test_batch_norm_matches_torch(shape, training, affine):
    torch = _torch()
    C = shape[1]
    x = randn(shape, seed=90) * 2 + 1
    rm, rv = randn(C, seed=91), rng(92).uniform(0.5, 2.0, C)
    g, b = (randn(C, seed=93), randn(C, seed=94)) if affine else (None, None)
    trm, trv = torch.tensor(rm), torch.tensor(rv)             # torch updates these in place
    tx = _leaf(torch, x)
    tg, tb = (_leaf(torch, g), _leaf(torch, b)) if affine else (None, None)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, training=training, momentum=0.3, eps=1e-3)
    y, new_rm, new_rv = R.batch_norm(x, rm, rv, g, b, training, 0.3, 1e-3)
    assert_close(y, _np(ty))
    assert_close(new_rm, trm.numpy())
    assert_close(new_rv, trv.numpy())
    gy = randn(shape, seed=95)
    ty.backward(torch.tensor(gy))
    gx, gg, gb = R.batch_norm_backward(gy, x, rm, rv, g, training, 1e-3)
    assert_close(gx, _np(tx.grad))
    if affine:
        assert_close(gg, _np(tg.grad))
        assert_close(gb, _np(tb.grad))


def test_dense_activations_and_mse_match_torch():
    torch = _torch()
    F = torch.nn.functional
    x, w, b = randn((2, 3, 5), seed=100), randn((4, 5), seed=101), randn(4, seed=102)
    tx, tw, tb = _leaf(torch, x), _leaf(torch, w), _leaf(torch, b)
    ty = F.linear(tx, tw, tb)
    assert_close(R.linear(x, w, b), _np(ty))
    gy = randn(ty.shape, seed=103)
    ty.backward(torch.tensor(gy))
    for mine, leaf in zip(R.linear_backward(gy, x, w), (tx, tw, tb)):
        assert_close(mine, _np(leaf.grad))

    x = randn((3, 4), seed=104)
    x[0, 0], x[1, 1] = 0.0, np.nan
    tx = _leaf(torch, x)
    ty = F.relu(tx)
    assert_close(R.relu(x), _np(ty))
    gy = randn(x.shape, seed=105)
    ty.backward(torch.tensor(gy))
    assert_close(R.relu_backward(gy, x), _np(tx.grad))

    for ours, theirs, backward in [(R.softmax, torch.softmax, R.softmax_backward),
                                   (R.log_softmax, torch.log_softmax, R.log_softmax_backward)]:
        for dim in (0, 1, -1):
            x = randn((3, 4, 5), seed=106) * 10
            tx = _leaf(torch, x)
            ty = theirs(tx, dim)
            y = ours(x, dim)
            assert_close(y, _np(ty))
            gy = randn(x.shape, seed=107)
            ty.backward(torch.tensor(gy))
            assert_close(backward(gy, y, dim), _np(tx.grad))

    for reduction in ("mean", "sum", "none"):
        x, t = randn((3, 4), seed=108), randn((3, 4), seed=109)
        tx = _leaf(torch, x)
        tl = F.mse_loss(tx, torch.tensor(t), reduction=reduction)
        assert_close(R.mse_loss(x, t, reduction), _np(tl))
        g = randn(tl.shape, seed=110)
        tl.backward(torch.tensor(g))
        assert_close(R.mse_loss_backward(x, t, reduction, g), _np(tx.grad))


def test_reference_never_imports_the_fast_path():
    # an oracle sharing code with what it checks cannot catch that code's mistakes
    import ast
    tree = ast.parse(open(R.__file__, encoding="utf-8").read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported <= {"math", "numpy"}, imported
