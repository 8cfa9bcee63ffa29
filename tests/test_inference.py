"""fastconv.inference.fuse: BatchNorm folding and ReLU fusion keep the model's function."""
import numpy as np
import pytest

import fastconv
from fastconv import models, nn
from fastconv.inference import ConvReLU2d, fold_batch_norm, fuse
from helpers import assert_close
from test_models_forward import no_init, randomize  # noqa: F401 (no_init is a fixture)


def _x(shape, dtype=np.float64, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _small_vgg_bn():
    # VGG's own dense head is 100 M parameters whatever the trunk: this keeps the test cheap
    # (fuse treats VGG.features, a Sequential, the same either way)
    return nn.Sequential(models.make_layers([8, "M", 16, 16, "M"], batch_norm=True), nn.Flatten(),
                         nn.Sequential(nn.Linear(16 * 8 * 8, 5), nn.ReLU(), nn.Linear(5, 2)))


def _count(model, cls):
    return sum(type(m) is cls for m in model.modules())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_resnet18_computes_the_same_function(dtype):
    fastconv.manual_seed(0)
    m = randomize(models.resnet18(num_classes=10), dtype=dtype).eval()
    f = fuse(m)
    x = _x((2, 3, 48, 40), dtype)
    with fastconv.no_grad():
        expected, actual = m(x), f(x)
    assert actual.dtype == dtype
    assert_close(actual, expected)  # float64 1e-10, float32 1e-5 of the output's scale
    assert _count(f, nn.BatchNorm2d) == 0 and _count(m, nn.BatchNorm2d) == 20
    # every ReLU inside the blocks and the stem's now runs in a convolution kernel
    assert _count(f, ConvReLU2d) == 1 + 8
    assert all(b._relu_in_conv for layer in (f.layer1, f.layer4) for b in layer)


def test_fused_bottleneck_resnet():
    m = randomize(models.ResNet(models.Bottleneck, [1, 2, 1, 1], num_classes=4)).eval()
    f = fuse(m)
    x = _x((2, 3, 24, 24))
    assert_close(f(x), m(x))
    assert _count(f, ConvReLU2d) == 1 + 2 * 5
    assert f.layer1[0].downsample[1].__class__ is nn.Identity  # the shortcut's BN folded too


def test_fused_vgg_bn_and_simple_cnn():
    for m, shape in ((randomize(_small_vgg_bn()).eval(), (2, 3, 32, 32)),
                     (randomize(models.simple_cnn(convs_per_stage=2)).eval(), (3, 1, 8, 8))):
        f = fuse(m)
        x = _x(shape)
        assert_close(f(x), m(x))
        features, classifier = (f[0], f[2]) if isinstance(f, nn.Sequential) else (f.features, f.classifier)
        assert not any(isinstance(layer, (nn.BatchNorm2d, nn.ReLU)) for layer in features)
        assert all(type(layer) in (ConvReLU2d, nn.Identity, nn.MaxPool2d) for layer in features)
        # the dense head keeps its ReLUs (no fused epilogue for Linear)
        assert any(isinstance(layer, nn.ReLU) for layer in classifier)


def test_fuse_leaves_the_original_untouched():
    m = randomize(models.resnet18(num_classes=3)).train()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    f = fuse(m)
    assert m.training and not f.training
    after = m.state_dict()
    assert list(after) == list(before)
    assert all(np.array_equal(after[k], before[k]) for k in before)
    assert type(m.layer1[0].conv1) is nn.Conv2d and not m.layer1[0]._relu_in_conv
    # the fused state dict keeps the convolutions' names and gains their folded biases
    sd = f.state_dict()
    assert "layer1.0.conv1.bias" in sd and "layer1.0.bn1.weight" not in sd


def test_fuse_inplace_and_keeps_backward_caches_of_the_original():
    m = randomize(models.simple_cnn()).train()
    x = _x((2, 1, 8, 8))
    y = m(x)
    f = fuse(m)  # a copy: m's saved activations survive, its backward still works
    m.backward(np.ones_like(y), need_input_grad=True)
    assert all(mod._ctx is None for mod in f.modules())
    expected = m.eval()(x)
    g = fuse(m, inplace=True)
    assert g is m and not m.training and _count(m, ConvReLU2d) == 2
    assert_close(m(x), expected)


def test_fuse_without_relu_only_folds():
    m = randomize(_small_vgg_bn()).eval()
    f = fuse(m, relu=False)
    assert _count(f, ConvReLU2d) == 0 and _count(f, nn.ReLU) == _count(m, nn.ReLU)
    assert _count(f, nn.BatchNorm2d) == 0
    x = _x((1, 3, 32, 32))
    assert_close(f(x), m(x))


def test_fused_vgg_model(no_init):
    # the whole VGG (its 100 M-parameter head included) in float32
    m = models.VGG(models.make_layers([8, "M", 16, "M", "M", "M", 32, "M"], batch_norm=True),
                   num_classes=3)
    m.classifier[0] = nn.Linear(32 * 7 * 7, 4096)  # keeps the test small; fuse ignores the head
    randomize(m, dtype=np.float32).eval()
    f = fuse(m)
    x = _x((1, 3, 32, 32), np.float32)
    assert_close(f(x), m(x))
    assert _count(f, ConvReLU2d) == 3 and _count(f, nn.BatchNorm2d) == 0


def test_fused_model_backward_gives_the_eval_gradient():
    m = randomize(models.ResNet(models.BasicBlock, [1, 1, 1, 1], num_classes=3)).eval()
    f = fuse(m)
    x = _x((2, 3, 16, 16))
    g = _x((2, 3), seed=2)
    m(x)
    gx = m.backward(g, need_input_grad=True)
    f(x)
    assert_close(f.backward(g, need_input_grad=True), gx)


def test_fold_batch_norm_formula_and_refusals():
    r = np.random.default_rng(0)
    conv = nn.Conv2d(2, 3, 3, dtype=np.float64)
    bn = nn.BatchNorm2d(3, eps=1e-3, dtype=np.float64).eval()
    bn.weight.data[...] = r.uniform(0.5, 2, 3)
    bn.bias.data[...] = r.normal(size=3)
    bn.running_mean[...] = r.normal(size=3)
    bn.running_var[...] = r.uniform(0.5, 2, 3)
    x = _x((2, 2, 5, 5))
    expected = bn(conv(x))
    w, b = conv.weight.data.copy(), conv.bias.data.copy()
    assert fold_batch_norm(conv, bn)
    s = bn.weight.data / np.sqrt(bn.running_var + 1e-3)
    np.testing.assert_allclose(conv.weight.data, w * s[:, None, None, None], rtol=1e-15)
    np.testing.assert_allclose(conv.bias.data, bn.bias.data + (b - bn.running_mean) * s, rtol=1e-14)
    assert_close(conv(x), expected)
    # no running statistics: eval mode would use batch statistics, nothing to fold
    assert not fold_batch_norm(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3, track_running_stats=False))
    assert not fold_batch_norm(nn.Conv2d(2, 4, 1), nn.BatchNorm2d(3))  # channel mismatch
    # affine=False: gamma 1, beta 0; a conv without bias gains one
    conv = nn.Conv2d(2, 3, 1, bias=False, dtype=np.float64)
    bn = nn.BatchNorm2d(3, affine=False, dtype=np.float64).eval()
    bn.running_mean[...] = [1.0, 2.0, 3.0]
    expected = bn(conv(x))
    assert fold_batch_norm(conv, bn)
    assert_close(conv(x), expected)


def test_fuse_rejects_non_modules_and_summary_reads_fused_models():
    with pytest.raises(TypeError, match="model"):
        fuse("resnet18")
    m = randomize(models.resnet18(num_classes=3)).eval()
    f = fuse(m)
    s = models.summary(f, 64)
    assert s.output_shape == (1, 3)
    # each folded BatchNorm's 2C parameters become its convolution's C biases
    folded = sum(bn.num_features for bn in m.modules() if isinstance(bn, nn.BatchNorm2d))
    assert s.total_params == models.summary(m, 64).total_params - folded
