"""fully_convolutional(model): exact conversion of the dense heads of ResNet, VGG and simple_cnn.

ResNet: the spatial mean of the score map equals the logits; VGG: a 224x224 input gives a 1x1 map
equal to the logits, a larger one a stride-32 map whose every position is the score of the
corresponding 224x224 crop; simple_cnn likewise with 8x8 windows at stride 4 (float64, 1e-10).
VGG is tested with its real structure (VGG class, make_layers, 7x7 adaptive pool, three Linear
layers) at reduced widths, so a 224x224 forward takes milliseconds (building a real VGG alone
allocates and initialises 133 M parameters).
"""
import copy

import numpy as np
import pytest

import fastconv
from fastconv import models, nn
from fastconv.models.fully_convolutional import FullyConvolutional, fully_convolutional
from helpers import assert_close, randn


@pytest.fixture(autouse=True)
def _seed():
    fastconv.manual_seed(0)


class NarrowVGG(models.VGG):
    """torchvision's VGG with fewer channels (same layers, pools and 7x7 adaptive pool)."""

    def __init__(self, cfg=(4, "M", 8, "M", 8, 8, "M", 16, "M", 16, "M"), hidden=24, num_classes=5):
        nn.Module.__init__(self)
        self.features = models.make_layers(list(cfg))
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        c = [v for v in cfg if v != "M"][-1]
        self.classifier = nn.Sequential(
            nn.Linear(c * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes))
        self.flatten = nn.Flatten()


def _eval64(model):
    return model.double().eval()


def _head_on_block(model, feats, i, j, kh, kw):
    """The original dense head applied to the (kh, kw) block of features at map position (i, j)."""
    block = np.ascontiguousarray(feats[:, :, i:i + kh, j:j + kw])
    with fastconv.no_grad():
        return model.classifier(block.reshape(len(block), -1))


def _run(model, x):
    with fastconv.no_grad():
        return model(x)


# ---- ResNet --------------------------------------------------------------------------------------

@pytest.mark.parametrize("builder,size", [(models.resnet18, (64, 64)), (models.resnet50, (32, 96))])
def test_resnet_map_mean_equals_logits(builder, size):
    model = _eval64(builder(num_classes=7))
    x = randn((2, 3) + size, seed=1)
    logits = _run(model, x)
    fcn = fully_convolutional(model)
    score = _run(fcn, x)
    assert score.shape == (2, 7, size[0] // 32, size[1] // 32)
    assert_close(score.mean(axis=(2, 3)), logits, rtol=1e-10)
    assert fcn.global_pool == "avg" and fcn.stride == (32, 32)


def test_resnet_larger_input_gives_larger_map():
    model = _eval64(models.resnet18(num_classes=3))
    fcn = fully_convolutional(model)
    small = _run(fcn, randn((1, 3, 64, 64), seed=2))
    large = _run(fcn, randn((1, 3, 128, 160), seed=2))
    assert small.shape == (1, 3, 2, 2) and large.shape == (1, 3, 4, 5)
    # each position of the map is the fc applied to one feature cell
    feats = _run(fcn.features, randn((1, 3, 128, 160), seed=2))
    w, b = model.fc.weight.data, model.fc.bias.data
    assert_close(large, np.einsum("kc,nchw->nkhw", w, feats) + b[:, None, None], rtol=1e-10)


def test_resnet_geometry_centres():
    fcn = fully_convolutional(models.resnet18(num_classes=2))
    # conv1 (7, s2, p3), maxpool (3, s2, p1), stride-2 3x3 convs: map cell i is centred on pixel 32 i
    assert fcn.offset == (0.0, 0.0)
    ys, xs = fcn.map_centres(2, 3)
    assert ys.tolist() == [0, 32] and xs.tolist() == [0, 32, 64]


# ---- VGG -----------------------------------------------------------------------------------------

def test_vgg_224_gives_1x1_map_equal_to_logits():
    model = _eval64(NarrowVGG())
    x = randn((2, 3, 224, 224), seed=3)
    logits = _run(model, x)
    fcn = fully_convolutional(model)
    score = _run(fcn, x)
    assert score.shape == (2, 5, 1, 1)
    assert_close(score[:, :, 0, 0], logits, rtol=1e-10)
    assert fcn.stride == (32, 32) and fcn.window == (224, 224) and fcn.offset == (111.5, 111.5)
    assert isinstance(fcn.classifier[0], nn.Conv2d) and fcn.classifier[0].kernel_size == (7, 7)
    assert [type(m).__name__ for m in fcn.classifier] == [
        "Conv2d", "ReLU", "Dropout", "Conv2d", "ReLU", "Dropout", "Conv2d"]


def test_vgg_larger_input_slides_the_224_window_at_stride_32():
    # position (i, j) is the dense head on the 7x7 block of features under the 224x224 window at
    # (32 i, 32 j) (the trunk's convolutions also see a little context around that window)
    model = _eval64(NarrowVGG())
    fcn = fully_convolutional(model)
    x = randn((2, 3, 256, 288), seed=4)
    score = _run(fcn, x)
    assert score.shape == (2, 5, 2, 3)
    feats = _run(model.features, x)
    assert feats.shape[2:] == (8, 9)
    for i in range(2):
        for j in range(3):
            assert_close(score[:, :, i, j], _head_on_block(model, feats, i, j, 7, 7), rtol=1e-10,
                         msg=f"window {i},{j}")
    ys, xs = fcn.map_centres(2, 3)
    assert ys.tolist() == [111.5, 143.5] and xs.tolist() == [111.5, 143.5, 175.5]


def test_vgg_too_small_input_names_the_window():
    fcn = fully_convolutional(_eval64(NarrowVGG()))
    with pytest.raises(ValueError, match="224x224"):
        _run(fcn, randn((1, 3, 160, 224)))


def test_vgg_converted_shapes_share_memory():
    model = NarrowVGG(num_classes=10)
    fcn = fully_convolutional(model)
    convs = [m for m in fcn.classifier if isinstance(m, nn.Conv2d)]
    assert [c.weight.shape for c in convs] == [(24, 16, 7, 7), (24, 24, 1, 1), (10, 24, 1, 1)]
    for conv, lin in zip(convs, [model.classifier[0], model.classifier[3], model.classifier[6]]):
        assert np.shares_memory(conv.weight.data, lin.weight.data)
        assert np.shares_memory(conv.bias.data, lin.bias.data)
    assert fcn.features is model.features
    # the same arrays: the kernel is the Linear's rows read as (C, 7, 7) blocks
    assert fcn.classifier[0].weight.data[3, 2, 1, 5] == model.classifier[0].weight.data[3, 2 * 49 + 1 * 7 + 5]
    assert fcn.classifier[0].weight.data.flags.c_contiguous


# ---- simple_cnn ----------------------------------------------------------------------------------

def test_simple_cnn_windows_at_stride_4():
    model = _eval64(models.simple_cnn(num_classes=11))
    fcn = fully_convolutional(model)
    assert fcn.stride == (4, 4) and fcn.window == (8, 8) and fcn.offset == (3.5, 3.5)
    x = randn((2, 1, 8, 8), seed=5)
    assert_close(_run(fcn, x)[:, :, 0, 0], _run(model, x), rtol=1e-10)
    scene = randn((1, 1, 20, 28), seed=6)
    score = _run(fcn, scene)
    assert score.shape == (1, 11, 4, 6)
    feats = _run(model.features, scene)
    for i in range(4):
        for j in range(6):
            assert_close(score[:, :, i, j], _head_on_block(model, feats, i, j, 2, 2), rtol=1e-10)


@pytest.mark.parametrize("kwargs", [dict(channels=(4, 8, 8), hidden=(16, 12), input_size=(16, 24)),
                                    dict(hidden=(), convs_per_stage=2, dropout=0.0),
                                    dict(channels=(6,), hidden=10, dropout=0.3, kernel_size=5)])
def test_simple_cnn_configurations(kwargs):
    model = _eval64(models.simple_cnn(num_classes=4, **kwargs))
    h, w = model.input_size
    x = randn((3, 1, h, w), seed=7)
    fcn = fully_convolutional(model)
    score = _run(fcn, x)
    assert score.shape == (3, 4, 1, 1)
    assert_close(score[:, :, 0, 0], _run(model, x), rtol=1e-10)
    assert fcn.window == (h, w)


def test_float32_close_and_dtype_kept():
    model = models.simple_cnn().eval()
    x = randn((4, 1, 8, 8), dtype=np.float32, seed=8)
    score = _run(fully_convolutional(model), x)
    assert score.dtype == np.float32
    assert_close(score[:, :, 0, 0], _run(model, x))


# ---- sharing, training through the converted model, errors -------------------------------------

def test_converted_model_shares_parameters_and_trains_back():
    model = _eval64(models.simple_cnn(num_classes=3))
    fcn = fully_convolutional(model)
    assert fully_convolutional(fcn) is fcn
    fcn.classifier[-1].weight.data += 1.0  # written through the view
    x = randn((2, 1, 8, 8), seed=9)
    assert_close(_run(fcn, x)[:, :, 0, 0], _run(model, x), rtol=1e-10)
    # a deepcopy first gives an independent network
    other = fully_convolutional(copy.deepcopy(model))
    other.classifier[-1].weight.data += 1.0
    assert not np.allclose(_run(other, x)[:, :, 0, 0], _run(model, x))


def test_backward_through_the_map_matches_the_original():
    model = _eval64(models.simple_cnn(num_classes=3))
    fcn = fully_convolutional(model)
    x = randn((2, 1, 8, 8), seed=10)
    g = randn((2, 3), seed=11)
    model(x)
    gx = model.backward(g, need_input_grad=True)
    grads = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    fcn(x)
    gx2 = fcn.backward(g[:, :, None, None], need_input_grad=True)
    assert_close(gx2, gx, rtol=1e-10)
    for conv, name in [(fcn.classifier[0], "classifier.0"), (fcn.classifier[2], "classifier.2")]:
        assert_close(conv.weight.grad.reshape(grads[name + ".weight"].shape), grads[name + ".weight"], rtol=1e-10)
    assert_close(model.features[0].weight.grad, grads["features.0.weight"], rtol=1e-10)


def test_exported_by_models():
    assert models.fully_convolutional is fully_convolutional
    fcn = models.fully_convolutional(models.simple_cnn())
    assert isinstance(fcn, FullyConvolutional)
    assert fcn[0] is fcn.features and list(fcn[1:]) == [fcn.classifier]


def test_unsupported_models():
    with pytest.raises(TypeError, match="model"):
        fully_convolutional(nn.Sequential(nn.Conv2d(1, 2, 3)))
    with pytest.raises(TypeError, match="model"):
        fully_convolutional("vgg16")
    bad = models.simple_cnn()
    bad.classifier = nn.Sequential(nn.Linear(128, 10), nn.Softmax(dim=1))
    with pytest.raises(TypeError, match="Softmax"):
        fully_convolutional(bad)
