"""Cross-check with PyTorch (optional): the same networks built with torch.nn, loaded with the
same weights through fastconv's weight files, give the same logits and gradients."""
import numpy as np
import pytest

import fastconv
from fastconv import io as fio
from fastconv import models
from helpers import assert_close
from test_models_forward import no_init  # noqa: F401 (fixture)

torch = pytest.importorskip("torch")
tnn = torch.nn

# torchvision's architectures in plain torch.nn, with torchvision's forward (torchvision itself is not installed)
from fastconv import _torch_models as tv  # noqa: E402


def _randomize_torch(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.2, generator=g)
                m.running_mean.normal_(0, 0.2, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.num_batches_tracked.fill_(5)
    return model


def _to_numpy(sd):
    return {k: v.detach().numpy().copy() for k, v in sd.items()}


@pytest.mark.parametrize("arch, suffix", [("resnet18", ".pth"), ("resnet50", ".safetensors")])
def test_resnet_logits_equal_torch(tmp_path, arch, suffix, no_init):
    torch.manual_seed(0)
    t = _randomize_torch(tv.BUILDERS[arch]()).eval()
    path = tmp_path / ("w" + suffix)
    if suffix == ".pth":
        torch.save(t.state_dict(), path)  # a torchvision-style file, read with weights_only=True
    else:
        fio.save(_to_numpy(t.state_dict()), path)
    ours = fio.load_weights(getattr(models, arch)(), path).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 48)).astype(np.float32)
    with torch.no_grad():
        expected = t(torch.from_numpy(x)).numpy()
    with fastconv.no_grad():
        actual = ours(x)
    assert_close(actual, expected, rtol=1e-4)
    assert int(ours.bn1.num_batches_tracked) == 5


@pytest.mark.slow
def test_vgg11_bn_logits_equal_torch_through_timm_layout(tmp_path, no_init):
    torch.manual_seed(0)
    t = _randomize_torch(tv.BUILDERS["vgg11_bn"]()).eval()
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = t(torch.from_numpy(x)).numpy()
    # the weights renamed and reshaped the way timm stores VGG (its dense head as convolutions)
    timm = {}
    for k, v in t.state_dict().items():
        v = v.numpy()
        if k.startswith("classifier."):
            k = k.replace("classifier.0", "pre_logits.fc1").replace("classifier.3", "pre_logits.fc2") \
                .replace("classifier.6", "head.fc")
            if k == "pre_logits.fc1.weight":
                v = v.reshape(-1, 512, 7, 7)
            elif k == "pre_logits.fc2.weight":
                v = v.reshape(-1, 4096, 1, 1)
        timm[k] = v
    fio.save(timm, tmp_path / "timm.safetensors")
    del timm
    ours = fio.load_weights(models.vgg11_bn(), tmp_path / "timm.safetensors").eval()
    with fastconv.no_grad():
        assert_close(ours(x), expected, rtol=1e-4)


def test_resnet_gradients_equal_torch(tmp_path, no_init):
    # ResNet-18's blocks, one per stage (every code path: stem, identity and projection
    # shortcuts, BatchNorm in training mode), at a size that keeps float64 cheap
    torch.manual_seed(0)
    t = _randomize_torch(tv.ResNet(tv.BasicBlock, [1, 1, 1, 1], num_classes=10)).double().train()
    ours = models.ResNet(models.BasicBlock, [1, 1, 1, 1], num_classes=10).double().train()
    ours.load_state_dict(_to_numpy(t.state_dict()))
    x = np.random.default_rng(0).standard_normal((2, 3, 24, 24))
    g = np.random.default_rng(1).standard_normal((2, 10))
    xt = torch.from_numpy(x).requires_grad_(True)
    t(xt).backward(torch.from_numpy(g))
    y = ours(x)
    gx = ours.backward(g, need_input_grad=True)
    assert_close(gx, xt.grad.numpy())
    tparams = dict(t.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, tparams[name].grad.numpy(), msg=name)
    # the running statistics moved the same way
    assert_close(ours.layer3[0].bn2.running_var, t.layer3[0].bn2.running_var.numpy())
    assert int(ours.layer3[0].bn2.num_batches_tracked) == 6


def test_load_failure_leaves_the_model_unchanged(tmp_path):
    fastconv.manual_seed(0)
    m = models.resnet18(num_classes=10)
    before = {k: v.copy() for k, v in m.state_dict().items()}
    t = tv.BUILDERS["resnet18"]()  # 1000 classes: fc does not fit
    fio.save(_to_numpy(t.state_dict()), tmp_path / "w.npz")
    with pytest.raises(ValueError, match="fc.weight"):
        fio.load_weights(m, tmp_path / "w.npz")
    after = m.state_dict()
    assert all(np.array_equal(after[k], before[k]) for k in before)
