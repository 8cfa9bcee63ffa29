"""BatchNorm: train/eval semantics, running statistics by hand, gradients, torch cross-check."""
import numpy as np
import pytest

import fastconv
from fastconv import nn
from fastconv import reference as R
from helpers import assert_close, randn

from test_nn_layers import check_module_grads


def test_training_normalises_with_batch_statistics_and_updates_running_ones_by_hand():
    x = np.array([1.0, 2.0, 3.0, 6.0]).reshape(2, 1, 2, 1)  # one channel, 4 values
    bn = nn.BatchNorm2d(1, momentum=0.1, dtype=np.float64)
    y = bn(x)
    mean, var_biased, var_unbiased = 3.0, 3.5, 14.0 / 3
    assert_close(y.reshape(-1), (np.array([1.0, 2, 3, 6]) - mean) / np.sqrt(var_biased + 1e-5))
    assert_close(bn.running_mean, [0.9 * 0 + 0.1 * mean])
    assert_close(bn.running_var, [0.9 * 1 + 0.1 * var_unbiased])
    assert int(bn.num_batches_tracked) == 1
    bn(x)
    assert_close(bn.running_mean, [0.9 * 0.3 + 0.1 * mean])
    assert int(bn.num_batches_tracked) == 2


def test_eval_uses_running_statistics_and_does_not_update_them():
    bn = nn.BatchNorm2d(2, dtype=np.float64)
    bn.running_mean[...] = [1.0, -2.0]
    bn.running_var[...] = [4.0, 0.25]
    bn.weight.data[...] = [2.0, 3.0]
    bn.bias.data[...] = [0.5, -0.5]
    bn.eval()
    x = randn((3, 2, 2, 2), seed=1)
    y = bn(x)
    expected = (x - np.array([1.0, -2.0])[None, :, None, None]) / np.sqrt(
        np.array([4.0, 0.25])[None, :, None, None] + 1e-5) * np.array([2.0, 3.0])[None, :, None, None] \
        + np.array([0.5, -0.5])[None, :, None, None]
    assert_close(y, expected)
    assert_close(bn.running_mean, [1.0, -2.0]) and int(bn.num_batches_tracked) == 0


def test_cumulative_average_when_momentum_is_none():
    bn = nn.BatchNorm2d(1, momentum=None, dtype=np.float64)
    means = []
    for seed in range(3):
        x = randn((4, 1, 3, 3), seed=seed) + seed
        means.append(x.mean())
        bn(x)
    assert_close(bn.running_mean, [np.mean(means)])


def test_without_running_statistics_batch_statistics_are_used_in_eval_too():
    bn = nn.BatchNorm2d(3, track_running_stats=False, dtype=np.float64).eval()
    x = randn((4, 3, 2, 2), seed=2)
    y = bn(x)
    assert_close(y.mean(axis=(0, 2, 3)), np.zeros(3), atol=1e-12)
    assert list(bn.state_dict()) == ["weight", "bias"]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_gradients_by_finite_differences(training, affine):
    fastconv.manual_seed(0)
    bn = nn.BatchNorm2d(3, affine=affine, dtype=np.float64)
    if affine:
        bn.weight.data[...] = [0.5, 2.0, -1.0]
        bn.bias.data[...] = [0.1, 0.2, 0.3]
    bn.running_mean[...] = [0.2, -0.1, 0.0]
    bn.running_var[...] = [1.5, 0.7, 2.0]
    bn.train(training)
    check_module_grads(bn, randn((2, 3, 3, 2), seed=3))


@pytest.mark.parametrize("training", [True, False])
def test_matches_reference(training):
    bn = nn.BatchNorm2d(4, dtype=np.float64)
    bn.weight.data[...] = [1.0, 2.0, 0.5, -1.0]
    bn.bias.data[...] = [0.0, 1.0, -1.0, 0.5]
    bn.running_mean[...] = [0.1, 0.2, 0.3, 0.4]
    bn.running_var[...] = [1.0, 2.0, 3.0, 4.0]
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    bn.train(training)
    x = randn((3, 4, 5, 2), seed=4)
    y = bn(x)
    ry, rrm, rrv = R.batch_norm(x, rm, rv, bn.weight.data, bn.bias.data, training, 0.1, 1e-5)
    assert_close(y, ry)
    assert_close(bn.running_mean, rrm)
    assert_close(bn.running_var, rrv)
    gy = randn(y.shape, seed=5)
    gx = bn.backward(gy, need_input_grad=True)
    rgx, rgw, rgb = R.batch_norm_backward(gy, x, rm, rv, bn.weight.data, training, 1e-5)
    assert_close(gx, rgx)
    assert_close(bn.weight.grad, rgw)
    assert_close(bn.bias.grad, rgb)


def test_float32():
    bn = nn.BatchNorm2d(3)
    x = randn((4, 3, 5, 5), np.float32, seed=6, scale=10) + 5
    y = bn(x)
    assert y.dtype == np.float32 and bn.running_var.dtype == np.float32
    ry, _, _ = R.batch_norm(x, np.zeros(3), np.ones(3), np.ones(3), np.zeros(3), True)
    assert_close(y, ry, np.float32, rtol=1e-5)


def test_batchnorm1d():
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    for shape in [(5, 3), (4, 3, 6)]:
        check_module_grads(bn, randn(shape, seed=7))
    with pytest.raises(ValueError, match="BatchNorm1d"):
        bn(np.zeros((2, 3, 4, 4)))


def test_bad_input():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match="4-D"):
        bn(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        bn(np.zeros((2, 4, 2, 2), np.float32))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.zeros((1, 3, 1, 1), np.float32))
    bn.eval()
    bn(np.zeros((1, 3, 1, 1), np.float32))  # fine in eval


def test_against_torch_over_several_steps():
    torch = pytest.importorskip("torch")
    tbn = torch.nn.BatchNorm2d(3, momentum=0.2).double()
    bn = nn.BatchNorm2d(3, momentum=0.2, dtype=np.float64)
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
    bn.weight.data[...] = [1.0, 2.0, 3.0]
    for step in range(3):
        x = randn((4, 3, 3, 3), seed=10 + step) * (step + 1)
        tx = torch.from_numpy(x).requires_grad_()
        ty = tbn(tx)
        gy = randn(x.shape, seed=20 + step)
        ty.backward(torch.from_numpy(gy))
        y = bn(x)
        gx = bn.backward(gy, need_input_grad=True)
        assert_close(y, ty.detach().numpy())
        assert_close(gx, tx.grad.numpy())
    assert_close(bn.weight.grad, tbn.weight.grad.numpy())
    for key, value in tbn.state_dict().items():
        assert_close(bn.state_dict()[key], value.numpy(), msg=key)
    tbn.eval()
    bn.eval()
    x = randn((2, 3, 3, 3), seed=30)
    assert_close(bn(x), tbn(torch.from_numpy(x)).detach().numpy())
