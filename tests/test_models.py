"""fastconv.models: structure, state_dict keys and parameter counts exactly torchvision's,
torchvision's initialisation, the lecture's simple CNN, and summary()'s arithmetic."""
import json
import math
import os

import numpy as np
import pytest

import fastconv
from fastconv import models, nn
from fastconv.nn import init

KEYS_DIR = os.path.join(os.path.dirname(__file__), "data", "torchvision_keys")

# torchvision's documented parameter counts (facts, also in the key files' first line)
DOCUMENTED = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
}


@pytest.fixture
def no_init(monkeypatch):
    """Skip weight initialisation (drawing VGG's 120 M dense weights takes seconds); the
    structure tests need shapes only. Records every init call instead."""
    calls = []

    def recorder(name):
        def fn(tensor, *args, **kwargs):
            calls.append((name, tensor, args, kwargs))
            return tensor
        return fn
    for name in ("uniform_", "normal_", "constant_", "zeros_", "ones_", "kaiming_uniform_",
                 "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "trunc_normal_"):
        monkeypatch.setattr(init, name, recorder(name))
    return calls


def _torchvision_keys(arch):
    entries = []
    with open(os.path.join(KEYS_DIR, arch + ".txt")) as f:
        header = f.readline()
        assert f"{DOCUMENTED[arch]} parameters" in header
        for line in f:
            key, shape, dtype = line.rstrip("\n").split("\t")
            entries.append((key, tuple(int(s) for s in shape.split(",") if s), dtype))
    return entries


@pytest.mark.parametrize("arch", sorted(DOCUMENTED))
def test_state_dict_keys_shapes_and_parameter_count(arch, no_init):
    model = models.get_model(arch)
    ours = [(k, tuple(v.shape), str(np.asarray(getattr(v, "data", v)).dtype))
            for k, v in model.state_dict(keep_vars=True).items()]
    assert ours == _torchvision_keys(arch)
    assert sum(p.size for p in model.parameters()) == DOCUMENTED[arch]


def test_parameter_keys_exclude_buffers(no_init):
    model = models.resnet18()
    names = [n for n, _ in model.named_parameters()]
    assert "bn1.weight" in names and "bn1.running_mean" not in names
    assert model.bn1.num_batches_tracked.shape == () and model.bn1.num_batches_tracked.dtype == np.int64


def test_resnet_v1_5_stride_sits_on_the_3x3(no_init):
    m = models.resnet50()
    block = m.layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv1.kernel_size == (1, 1)
    assert block.conv2.stride == (2, 2) and block.conv2.kernel_size == (3, 3)
    assert block.downsample[0].stride == (2, 2) and isinstance(block.downsample[1], nn.BatchNorm2d)
    assert m.layer1[0].downsample is not None  # 64 -> 256 channels needs a projection
    assert models.resnet18().layer1[0].downsample is None
    assert models.Bottleneck.expansion == 4 and models.BasicBlock.expansion == 1
    assert m.fc.in_features == 2048 and m.maxpool.kernel_size in (3, (3, 3))


def test_vgg_layout(no_init):
    m = models.vgg16_bn()
    kinds = [type(x).__name__ for x in m.features]
    assert kinds[:4] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]
    assert kinds.count("MaxPool2d") == 5 and kinds.count("Conv2d") == 13
    assert m.features[0].padding == (1, 1) and m.features[0].bias is not None
    assert m.avgpool.output_size in ((7, 7), 7)
    c = m.classifier
    assert [type(x).__name__ for x in c] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU",
                                             "Dropout", "Linear"]
    assert c[2].p == 0.5 and c[0].in_features == 512 * 7 * 7


def test_num_classes(no_init):
    assert models.resnet18(num_classes=10).fc.weight.shape == (10, 512)
    assert models.vgg11(num_classes=7).classifier[6].weight.shape == (7, 4096)


def test_get_model_and_list_models():
    assert "resnet50" in models.list_models() and "vgg19_bn" in models.list_models()
    with pytest.raises(ValueError, match="unknown model"):
        models.get_model("resnet51")


# ---- initialisation ----------------------------------------------------------------------------

def test_resnet_initialisation_is_torchvision():
    fastconv.manual_seed(0)
    m = models.resnet18()
    for name, mod in m.named_modules():
        if isinstance(mod, nn.Conv2d):
            w = mod.weight.data
            fan_out = w.shape[0] * w.shape[2] * w.shape[3]
            if w.size >= 10_000:  # enough samples for a 5% check of the std
                assert abs(w.std() / math.sqrt(2.0 / fan_out) - 1) < 0.05, name
                assert abs(w.mean()) < 0.1 * w.std(), name
        elif isinstance(mod, nn.BatchNorm2d):
            assert np.all(mod.weight.data == 1) and np.all(mod.bias.data == 0), name
    # fc keeps torch's default Linear init: uniform(+-1/sqrt(in_features))
    bound = 1 / math.sqrt(512)
    assert np.abs(m.fc.weight.data).max() <= bound and m.fc.weight.data.std() > 0.5 * bound / math.sqrt(3)


def test_zero_init_residual():
    m = models.resnet18(zero_init_residual=True)
    for block in [*m.layer1, *m.layer2, *m.layer3, *m.layer4]:
        assert np.all(block.bn2.weight.data == 0) and np.all(block.bn1.weight.data == 1)
    assert np.all(models.resnet18().layer1[0].bn2.weight.data == 1)


def test_vgg_initialisation_calls_are_torchvision(no_init):
    m = models.vgg11()
    # every call after the layers' own reset_parameters, i.e. VGG's _initialize_weights
    by_tensor = {}
    for name, tensor, args, kwargs in no_init:
        by_tensor[id(tensor)] = (name, args, kwargs)  # last call wins, as the values would
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            assert by_tensor[id(mod.weight)] == ("kaiming_normal_", (),
                                                 {"mode": "fan_out", "nonlinearity": "relu"})
            assert by_tensor[id(mod.bias)] == ("constant_", (0,), {})
        elif isinstance(mod, nn.Linear):
            assert by_tensor[id(mod.weight)] == ("normal_", (0, 0.01), {})
            assert by_tensor[id(mod.bias)] == ("constant_", (0,), {})


def test_vgg_bn_initialisation(no_init):
    m = models.vgg11_bn()
    last = {}
    for name, tensor, args, kwargs in no_init:
        last[id(tensor)] = (name, args)
    bn = m.features[1]
    assert last[id(bn.weight)] == ("constant_", (1,)) and last[id(bn.bias)] == ("constant_", (0,))


# ---- the lecture's simple CNN ------------------------------------------------------------------

def test_simple_cnn_default_is_the_digits_network():
    fastconv.manual_seed(0)
    m = models.simple_cnn()
    kinds = [type(x).__name__ for x in m.features]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"]
    assert [type(x).__name__ for x in m.classifier] == ["Linear", "ReLU", "Linear"]
    # 1->16 3x3: 160; 16->32 3x3: 4,640; 32*2*2 -> 64: 8,256; 64 -> 10: 650
    assert sum(p.size for p in m.parameters()) == 160 + 4640 + 8256 + 650
    y = m(np.zeros((5, 1, 8, 8), np.float32))
    assert y.shape == (5, 10) and y.dtype == np.float32
    assert list(m.state_dict())[:2] == ["features.0.weight", "features.0.bias"]


def test_simple_cnn_options():
    m = models.simple_cnn(in_channels=3, num_classes=4, channels=(8, 8, 16), convs_per_stage=2,
                          hidden=(32, 16), input_size=(16, 24), dropout=0.25)
    kinds = [type(x).__name__ for x in m.features]
    assert kinds.count("Conv2d") == 6 and kinds.count("MaxPool2d") == 3
    assert m.classifier[0].in_features == 16 * 2 * 3
    assert [type(x).__name__ for x in m.classifier] == ["Linear", "ReLU", "Dropout", "Linear",
                                                        "ReLU", "Dropout", "Linear"]
    assert m(np.zeros((2, 3, 16, 24), np.float32)).shape == (2, 4)
    assert models.simple_cnn(hidden=()).classifier[0].out_features == 10


@pytest.mark.parametrize("kwargs, match", [
    ({"input_size": 2}, "too small"),
    ({"channels": ()}, "channels"),
    ({"channels": (16, 0)}, "channels"),
    ({"hidden": (-1,)}, "hidden"),
    ({"convs_per_stage": 0}, "convs_per_stage"),
    ({"num_classes": 0}, "num_classes"),
    ({"dropout": 1.0}, "dropout"),
    ({"kernel_size": 2}, "kernel_size"),
])
def test_simple_cnn_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.simple_cnn(**kwargs)


# ---- summary -----------------------------------------------------------------------------------

def test_summary_lecture_arithmetic(no_init):
    s = models.summary(models.vgg16(), 224)
    first = s.layers[0]
    assert first.name == "features.0" and first.params == 3 * 3 * 3 * 64 + 64 == 1792
    assert first.output_shape == (1, 64, 224, 224)
    assert s.total_params == 138_357_544
    dense = sum(l.params for l in s.layers if l.type == "Linear")
    assert dense == 123_642_856  # 88% of VGG16 is its dense head
    # receptive fields: 3, 5 after two 3x3 convs, 6 after the 2x2 pool, 10 after the next conv
    rf = {l.name: l.receptive_field for l in s.layers}
    assert rf["features.0"] == (3, 3) and rf["features.2"] == (5, 5)
    assert rf["features.4"] == (6, 6) and rf["features.5"] == (10, 10)
    assert rf["features.30"] == (212, 212)  # VGG16's well-known 212
    assert rf["classifier.0"] is None
    # FLOPs of conv1_1 with conv_layers.json's formula 2*N*K*C*R*S*Ho*Wo
    assert first.flops == 2 * 64 * 3 * 3 * 3 * 224 * 224
    macs = sum(l.flops for l in s.layers if l.type in ("Conv2d", "Linear")) / 2
    assert abs(macs / 15.47e9 - 1) < 0.005  # torchvision documents 15.47 GFLOPS (multiply-adds)
    assert s.output_shape == (1, 1000)
    text = str(s)
    assert "138,357,544" in text and "1,792" in text


def test_summary_resnet50(no_init):
    s = models.summary(models.resnet50(), (3, 224, 224))
    assert s.total_params == 25_557_032
    macs = sum(l.flops for l in s.layers if l.type in ("Conv2d", "Linear")) / 2
    assert abs(macs / 4.09e9 - 1) < 0.005  # torchvision: 4.09 GFLOPS
    rf = {l.name: l.receptive_field for l in s.layers}
    assert rf["layer4.2"] == (427, 427)  # ResNet-50's theoretical receptive field
    names = [l.name for l in s.layers]
    assert names.index("layer1.0.downsample.0") < names.index("layer1.0")
    json.dumps(s.to_dict())  # serialisable


def test_summary_matches_a_real_forward():
    fastconv.manual_seed(0)
    m = models.resnet18(num_classes=5).eval()
    s = models.summary(m, (2, 3, 40, 24))
    with fastconv.no_grad():
        assert m(np.zeros((2, 3, 40, 24), np.float32)).shape == s.output_shape
    shapes = {l.name: l.output_shape for l in s.layers}
    assert shapes["layer4.1"] == (2, 512, 2, 1)


def test_summary_errors(no_init):
    with pytest.raises(ValueError, match="too small"):
        models.summary(models.vgg11(), 16)
    with pytest.raises(ValueError, match="input_size"):
        models.summary(models.vgg11(), (3, 0, 224))
    with pytest.raises(ValueError, match="input channels"):
        models.summary(models.vgg11(), (1, 64, 64))
    with pytest.raises(TypeError, match="model"):
        models.summary("vgg11", 224)
    # the smallest inputs: VGG 32, ResNet 1
    assert models.summary(models.vgg11(), 32).output_shape == (1, 1000)
    assert models.summary(models.resnet18(), 1).output_shape == (1, 1000)


def test_summary_of_a_plain_sequential():
    net = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(64 * 15 * 15, 10))
    s = models.summary(net, (3, 32, 32))
    assert [l.name for l in s.layers] == ["0", "1", "2", "3", "4"]
    assert s.layers[0].params == 1792 and s.layers[2].output_shape == (1, 64, 15, 15)
    assert s.layers[2].receptive_field == (4, 4)


def test_summary_of_a_dense_network_and_unknown_layers():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2),
                        nn.Sigmoid())
    s = models.summary(net, (3, 2, 2))
    assert s.output_shape == (1, 2) and s.total_params == 12 * 5 + 5 + 10 + 5 * 2 + 2
    assert s.layers[1].flops == 2 * 12 * 5

    class Odd(nn.Module):
        def forward(self, x):
            return x
    with pytest.raises(ValueError, match="cannot infer the output of 1 \\(Odd\\)"):
        models.summary(nn.Sequential(nn.Conv2d(3, 4, 3), Odd()), 8)
