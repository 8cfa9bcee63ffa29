"""fastconv.nn.init: torch's formulas, in-place filling, seeding."""
import math

import numpy as np
import pytest

import fastconv
from fastconv import nn
from fastconv.nn import init


def test_calculate_gain_values():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")


def test_kaiming_normal_fan_out_std_and_in_place():
    fastconv.manual_seed(0)
    w = nn.Parameter(np.empty((256, 64, 3, 3), np.float32))
    data = w.data
    out = init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert out is w and w.data is data and w.dtype == np.float32
    assert w.data.std() == pytest.approx(math.sqrt(2 / (256 * 9)), rel=0.02)
    assert abs(w.data.mean()) < 1e-3


def test_uniform_families_stay_in_bounds():
    a = np.empty((50, 40))
    init.xavier_uniform_(a)
    bound = math.sqrt(6 / 90)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.95 * bound
    init.kaiming_uniform_(a, a=0, nonlinearity="relu")
    assert np.abs(a).max() <= math.sqrt(6 / 40)
    init.trunc_normal_(a, std=1.0, a=-0.5, b=0.5)
    assert a.min() >= -0.5 and a.max() <= 0.5


def test_constant_zeros_ones_normal():
    a = np.empty(5)
    np.testing.assert_array_equal(init.constant_(a, 3), 3)
    np.testing.assert_array_equal(init.zeros_(a), 0)
    np.testing.assert_array_equal(init.ones_(a), 1)
    fastconv.manual_seed(1)
    b = init.normal_(np.empty(20000), 2.0, 0.5)
    assert b.mean() == pytest.approx(2.0, abs=0.02) and b.std() == pytest.approx(0.5, rel=0.03)


def test_explicit_generator_and_errors():
    a = init.uniform_(np.empty(4), generator=np.random.default_rng(3))
    b = init.uniform_(np.empty(4), generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="tensor"):
        init.zeros_([1, 2])
    with pytest.raises(ValueError, match="2 dimensions"):
        init.xavier_uniform_(np.empty(3))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(np.empty((2, 2)), mode="fan_avg")


def test_manual_seed_is_exported_by_fastconv():
    assert fastconv.manual_seed is init.manual_seed
    g = fastconv.manual_seed(9)
    assert init.default_generator() is g
