"""Model forward and backward against independent NumPy compositions of fastconv.reference ops
(float64), finite differences, frozen-trunk backward, and any input size above the minimum."""
import numpy as np
import pytest

import fastconv
from fastconv import models, nn
from fastconv import reference as R
from fastconv.nn import init
from helpers import assert_close, numerical_grad


# ---- the oracle: each model written out with reference ops, from torchvision's definitions ------

def ref_conv(m, x):
    return R.conv2d(x, m.weight.data, None if m.bias is None else m.bias.data, m.stride, m.padding)


def ref_bn(m, x):
    return R.batch_norm(x, m.running_mean, m.running_var, m.weight.data, m.bias.data,
                        training=m.training, momentum=m.momentum, eps=m.eps)[0]


def ref_layer(m, x):
    if isinstance(m, nn.Conv2d):
        return ref_conv(m, x)
    if isinstance(m, nn.BatchNorm2d):
        return ref_bn(m, x)
    if isinstance(m, nn.ReLU):
        return R.relu(x)
    if isinstance(m, nn.MaxPool2d):
        return R.max_pool2d(x, m.kernel_size, m.stride, m.padding)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return R.adaptive_avg_pool2d(x, m.output_size)
    if isinstance(m, nn.Linear):
        return R.linear(x, m.weight.data, m.bias.data)
    if isinstance(m, nn.Dropout):
        assert not m.training
        return x
    if isinstance(m, nn.Sequential):
        for child in m:
            x = ref_layer(child, x)
        return x
    raise TypeError(type(m).__name__)


def ref_basic_block(b, x):
    out = R.relu(ref_bn(b.bn1, ref_conv(b.conv1, x)))
    out = ref_bn(b.bn2, ref_conv(b.conv2, out))
    identity = x if b.downsample is None else ref_layer(b.downsample, x)
    return R.relu(out + identity)


def ref_bottleneck(b, x):
    out = R.relu(ref_bn(b.bn1, ref_conv(b.conv1, x)))
    out = R.relu(ref_bn(b.bn2, ref_conv(b.conv2, out)))
    out = ref_bn(b.bn3, ref_conv(b.conv3, out))
    identity = x if b.downsample is None else ref_layer(b.downsample, x)
    return R.relu(out + identity)


def ref_resnet(m, x):
    x = R.max_pool2d(R.relu(ref_bn(m.bn1, ref_conv(m.conv1, x))), 3, 2, 1)
    for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
        for b in layer:
            x = ref_bottleneck(b, x) if isinstance(b, models.Bottleneck) else ref_basic_block(b, x)
    x = R.adaptive_avg_pool2d(x, 1).reshape(x.shape[0], -1)
    return R.linear(x, m.fc.weight.data, m.fc.bias.data)


def ref_vgg(m, x):
    x = ref_layer(m.features, x)
    x = R.adaptive_avg_pool2d(x, 7).reshape(x.shape[0], -1)
    return ref_layer(m.classifier, x)


# ---- helpers ------------------------------------------------------------------------------------

def randomize(model, seed=0, dtype=np.float64):
    """Non-trivial values everywhere (new arrays of ``dtype``, so whatever the layers were
    initialised with is never read), scaled so activations stay O(1)."""
    r = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = r.uniform(0.5, 1.5, m.weight.shape).astype(dtype)
            m.bias.data = r.normal(0, 0.2, m.bias.shape).astype(dtype)
            m.running_mean = r.normal(0, 0.2, m.running_mean.shape).astype(dtype)
            m.running_var = r.uniform(0.5, 2.0, m.running_var.shape).astype(dtype)
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            shape = m.weight.shape
            fan_in = int(np.prod(shape[1:]))
            if len(shape) == 2 and shape[0] > 512:
                # VGG's 4096-wide layers: 512 random rows repeated (drawing 100 M values is slow)
                rows = r.standard_normal((512, shape[1])).astype(dtype)
                w = np.tile(rows, (-(-shape[0] // 512), 1))[:shape[0]]
            else:
                w = r.standard_normal(shape).astype(dtype)
            w *= np.sqrt(2.0 / fan_in)
            m.weight.data = w
            if m.bias is not None:
                m.bias.data = r.normal(0, 0.1, m.bias.shape).astype(dtype)
    return model


def x64(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.fixture
def no_init(monkeypatch):
    for name in ("uniform_", "normal_", "constant_", "kaiming_uniform_", "kaiming_normal_"):
        monkeypatch.setattr(init, name, lambda t, *a, **k: t)


def _blocks():
    down = lambda cin, cout, s: nn.Sequential(models.conv1x1(cin, cout, s), nn.BatchNorm2d(cout))  # noqa: E731
    return {
        "basic": (lambda: models.BasicBlock(4, 4), ref_basic_block, 4),
        "basic_down": (lambda: models.BasicBlock(3, 5, 2, down(3, 5, 2)), ref_basic_block, 3),
        "bottleneck_down": (lambda: models.Bottleneck(4, 2, 2, down(4, 8, 2)), ref_bottleneck, 4),
        "bottleneck": (lambda: models.Bottleneck(8, 2), ref_bottleneck, 8),
    }


# ---- forward ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(_blocks()))
@pytest.mark.parametrize("training", [True, False])
def test_block_forward_matches_reference(kind, training):
    build, ref, cin = _blocks()[kind]
    b = randomize(build()).train(training)
    x = x64((3, cin, 7, 6))
    expected = ref(b, x)
    assert_close(b(x), expected)


def test_resnet18_forward_matches_reference():
    fastconv.manual_seed(0)
    m = randomize(models.resnet18(num_classes=10)).eval()
    for shape in [(2, 3, 32, 32), (1, 3, 1, 1), (1, 3, 13, 7)]:
        x = x64(shape)
        assert_close(m(x), ref_resnet(m, x), msg=str(shape))


def test_resnet_bottleneck_model_forward_matches_reference(no_init):
    # a ResNet of Bottlenecks, one block per stage (ResNet-50's structure, cheaper)
    m = randomize(models.ResNet(models.Bottleneck, [1, 1, 1, 1], num_classes=7)).eval()
    x = x64((2, 3, 20, 20))
    assert_close(m(x), ref_resnet(m, x))


@pytest.mark.slow
def test_vgg11_forward_matches_reference(no_init):
    m = randomize(models.vgg11()).eval()
    x = x64((2, 3, 32, 32))
    y = m(x)
    assert y.shape == (2, 1000) and y.dtype == np.float64
    assert_close(y, ref_vgg(m, x))
    # VGG needs 32x32: five 2x2 pools
    with pytest.raises(ValueError, match="at least 32x32, got 31x40"):
        m(x64((1, 3, 31, 40)))


def test_vgg_bn_features_match_reference_in_float32():
    features = randomize(models.make_layers([8, "M", 16, 16, "M"], batch_norm=True),
                         dtype=np.float32).eval()
    x = x64((2, 3, 12, 10)).astype(np.float32)
    y = features(x)
    assert y.dtype == np.float32 and y.shape == (2, 16, 3, 2)
    assert_close(y, ref_layer(features, x), rtol=1e-5)


@pytest.mark.parametrize("size", [1, 2, 5, 33])
def test_resnet_any_input_size(size, no_init):
    m = randomize(models.resnet18(num_classes=3), dtype=np.float32).eval()
    with fastconv.no_grad():
        y = m(x64((1, 3, size, size)).astype(np.float32))
    assert y.shape == (1, 3) and np.isfinite(y).all()


def test_no_grad_forward_is_identical_and_keeps_nothing():
    fastconv.manual_seed(0)
    m = randomize(models.resnet18(num_classes=4)).eval()
    x = x64((2, 3, 16, 16))
    y = m(x)
    with fastconv.no_grad():
        y2 = m(x)
    np.testing.assert_array_equal(y, y2)
    assert all(mod._ctx is None for mod in m.modules())
    np.testing.assert_array_equal(x, x64((2, 3, 16, 16)))  # the input was not modified


def test_simple_cnn_forward_matches_reference():
    m = randomize(models.simple_cnn(convs_per_stage=2, hidden=(12, 9))).eval()
    x = x64((4, 1, 8, 8))
    ref = ref_layer(m.features, x).reshape(4, -1)
    assert_close(m(x), ref_layer(m.classifier, ref))
    with pytest.raises(ValueError, match="built for 8x8 images"):
        m(x64((1, 1, 16, 16)))


# ---- backward -----------------------------------------------------------------------------------

def _fd_param_check(module, x, grad_y, param, count=None, seed=0):
    """Finite differences of L = sum(module(x) * grad_y) w.r.t. (some entries of) param."""
    analytic = param.grad.copy()
    flat = param.data.reshape(-1)
    idx = np.arange(flat.size) if count is None else \
        np.random.default_rng(seed).choice(flat.size, size=min(count, flat.size), replace=False)
    for i in idx:
        saved = flat[i]
        flat[i] = saved + 1e-6
        up = np.sum(module(x) * grad_y)
        flat[i] = saved - 1e-6
        down = np.sum(module(x) * grad_y)
        flat[i] = saved
        num = (up - down) / 2e-6
        assert abs(analytic.reshape(-1)[i] - num) <= 1e-6 * max(1.0, abs(num)), (i, analytic.reshape(-1)[i], num)


@pytest.mark.parametrize("kind", list(_blocks()))
@pytest.mark.parametrize("training", [True, False])
def test_block_backward_by_finite_differences(kind, training):
    build, _, cin = _blocks()[kind]
    b = randomize(build(), seed=3).train(training)
    x = x64((2, cin, 4, 3), seed=4)
    y = b(x)
    grad_y = np.random.default_rng(5).standard_normal(y.shape)
    gx = b.backward(grad_y, need_input_grad=True)

    def loss(xi):
        return np.sum(b(xi) * grad_y)
    assert_close(gx, numerical_grad(loss, x), rtol=1e-6, atol=1e-9)
    _fd_param_check(b, x, grad_y, b.conv1.weight, count=12)
    _fd_param_check(b, x, grad_y, b.bn1.weight)
    last_bn = b.bn3 if isinstance(b, models.Bottleneck) else b.bn2
    _fd_param_check(b, x, grad_y, last_bn.bias)
    if b.downsample is not None:
        _fd_param_check(b, x, grad_y, b.downsample[0].weight, count=8)


def test_resnet_backward_by_finite_differences(no_init):
    m = randomize(models.ResNet(models.BasicBlock, [1, 1, 1, 1], num_classes=3), seed=6).train()
    x = x64((2, 3, 9, 9), seed=7)
    y = m(x)
    grad_y = np.random.default_rng(8).standard_normal(y.shape)
    gx = m.backward(grad_y, need_input_grad=True)
    r = np.random.default_rng(9)
    flat_x = x.reshape(-1)
    for i in r.choice(flat_x.size, 6, replace=False):
        saved = flat_x[i]
        flat_x[i] = saved + 1e-6
        up = np.sum(m(x) * grad_y)
        flat_x[i] = saved - 1e-6
        down = np.sum(m(x) * grad_y)
        flat_x[i] = saved
        num = (up - down) / 2e-6
        assert abs(gx.reshape(-1)[i] - num) <= 1e-6 * max(1.0, abs(num))
    _fd_param_check(m, x, grad_y, m.conv1.weight, count=6)
    _fd_param_check(m, x, grad_y, m.layer2[0].downsample[0].weight, count=4)
    _fd_param_check(m, x, grad_y, m.fc.weight, count=4)


def test_backward_without_input_grad_returns_none_and_fills_every_grad():
    fastconv.manual_seed(0)
    m = models.resnet18(num_classes=4)
    y = m(np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32))
    assert m.backward(np.ones_like(y)) is None
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())


def test_frozen_trunk_backward_stops_at_the_head(monkeypatch):
    fastconv.manual_seed(0)
    m = models.resnet18(num_classes=4)
    m.requires_grad_(False)
    m.fc.requires_grad_(True)

    def must_not_run(*args, **kwargs):
        raise AssertionError("backward ran below the trainable head")
    for mod in m.modules():
        if mod is not m and mod is not m.fc:
            monkeypatch.setattr(mod, "backward", must_not_run)
    y = m(np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32))
    assert m.backward(np.ones_like(y)) is None
    assert m.fc.weight.grad is not None
    assert all(p.grad is None for n, p in m.named_parameters() if not n.startswith("fc."))
    assert all(mod._ctx is None for mod in m.modules())  # activations released


def test_partially_frozen_resnet_trains_only_the_top():
    fastconv.manual_seed(0)
    m = models.resnet18(num_classes=4)
    m.requires_grad_(False)
    m.layer4.requires_grad_(True)
    m.fc.requires_grad_(True)
    y = m(np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32))
    m.backward(np.ones_like(y))
    for name, p in m.named_parameters():
        trainable = name.startswith(("layer4.", "fc."))
        assert (p.grad is not None) == trainable, name
    # the shortcut branch of layer4.0 got its gradient too
    assert np.abs(m.layer4[0].downsample[0].weight.grad).sum() > 0


def test_frozen_downsample_but_trainable_main_branch():
    b = randomize(models.BasicBlock(3, 5, 2, nn.Sequential(models.conv1x1(3, 5, 2), nn.BatchNorm2d(5))))
    b.downsample.requires_grad_(False)
    x = x64((2, 3, 6, 6))
    y = b(x)
    gx = b.backward(np.ones_like(y), need_input_grad=True)
    assert gx.shape == x.shape
    assert b.downsample[0].weight.grad is None and b.conv1.weight.grad is not None


def test_vgg_backward_head_only(no_init):
    m = models.VGG(models.make_layers([8, "M", 16, "M", "M", "M", 8, "M"]), num_classes=3)
    m.classifier[0] = nn.Linear(8 * 7 * 7, 4096)  # a narrow trunk keeps the test cheap
    randomize(m, dtype=np.float32).train()
    m.requires_grad_(False)
    m.classifier[6].requires_grad_(True)
    y = m(x64((2, 3, 32, 32)).astype(np.float32))
    assert m.backward(np.ones_like(y)) is None
    assert m.classifier[6].weight.grad.shape == (3, 4096)
    assert m.classifier[0].weight.grad is None and m.features[0].weight.grad is None
    assert all(mod._ctx is None for mod in m.modules())


def test_backward_twice_without_forward_raises():
    b = randomize(models.BasicBlock(2, 2))
    y = b(x64((1, 2, 4, 4)))
    b.backward(np.ones_like(y))
    with pytest.raises(RuntimeError):
        b.backward(np.ones_like(y))
