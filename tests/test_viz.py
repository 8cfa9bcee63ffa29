"""fastconv.viz: class activation maps (shape, range, the ResNet definition, localisation of
digits in a scene with a quickly trained model), boxes, overlays and grids as valid PNGs,
feature visualisation that increases the chosen activation, and `fastconv localize`."""
import numpy as np
import pytest
from PIL import Image

import fastconv
from fastconv import _imaging as im
from fastconv import models, nn, viz
from helpers import assert_close, randn


@pytest.fixture(autouse=True)
def _seed():
    fastconv.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny images: with OpenMP threads on a busy machine, synchronisation dominates
    prev = fastconv.get_num_threads()
    fastconv.set_num_threads(1)
    yield
    fastconv.set_num_threads(prev)


def _png(path):
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


# ---- image helpers -------------------------------------------------------------------------------

def test_resample_bilinear_puts_samples_at_their_centres():
    m = randn((2, 3, 4))
    out = im.resample_bilinear(m, (23, 29), stride=(4, 5), offset=(3.0, 2.0))
    # at a sample's own centre the map value comes back exactly (in between: interpolation)
    assert_close(out[:, 7, 2], m[:, 1, 0])
    assert_close(out[:, 7, 12], m[:, 1, 2])
    assert_close(out[:, 9, 4], (0.5 * m[:, 1, 0] + 0.5 * m[:, 2, 0]) * 0.6
                 + (0.5 * m[:, 1, 1] + 0.5 * m[:, 2, 1]) * 0.4)
    # before the first and after the last sample the map is held constant
    assert_close(out[:, 0, 0], m[:, 0, 0])
    assert_close(out[:, 22, 28], m[:, 2, 3])


def test_resample_bilinear_default_matches_torch_interpolate():
    torch = pytest.importorskip("torch")
    m = randn((1, 2, 5, 7))
    ours = im.resample_bilinear(m, (20, 21))
    ref = torch.nn.functional.interpolate(torch.from_numpy(m), size=(20, 21), mode="bilinear",
                                          align_corners=False).numpy()
    assert_close(ours, ref)


def test_to_rgb_jet_region_blur_grid():
    assert im.to_rgb_uint8(np.zeros((1, 3, 4, 5), np.float32)).shape == (4, 5, 3)
    grey = im.to_rgb_uint8(np.array([[0.0, 1.0]]))
    assert grey.tolist() == [[[0, 0, 0], [255, 255, 255]]]
    assert im.to_rgb_uint8(np.array([[-2.0, 2.0]]))[0, :, 0].tolist() == [0, 255]  # min-max
    with pytest.raises(ValueError, match="image"):
        im.to_rgb_uint8(np.zeros((2, 4, 5, 6)))
    assert im.jet(np.array([0.0, 0.5, 1.0])).tolist() == [[0, 0, 128], [128, 255, 128], [128, 0, 0]]
    mask = np.zeros((8, 10), bool)
    mask[1:3, 1:3] = True            # 4 pixels
    mask[4:7, 5] = True
    mask[6, 6:9] = True              # 6 pixels, 8-connected L shape
    assert im.largest_region(mask) == (4, 5, 7, 9)
    assert im.largest_region(np.zeros((3, 3), bool)) is None
    flat = np.full((1, 1, 6, 6), 2.0)
    assert_close(im.gaussian_blur(flat, 1.0), flat)
    assert im.tile_grid(np.zeros((5, 3, 4, 3), np.uint8), ncols=2, pad=1).shape == (3 * 4 + 1, 2 * 5 + 1, 3)


# ---- class activation maps -----------------------------------------------------------------------

def test_cam_resnet_shape_range_and_definition():
    model = models.resnet18(num_classes=5).double().eval()
    x = randn((2, 3, 96, 64), seed=1)
    cam, target = viz.class_activation_map(model, x, return_target=True)
    assert cam.shape == (2, 96, 64) and cam.dtype == np.float64
    assert cam.min() >= 0 and cam.max() <= 1 and np.allclose(cam.max(axis=(1, 2)), 1)
    with fastconv.no_grad():
        logits = model(x)
    assert target.tolist() == logits.argmax(axis=1).tolist()
    # Zhou et al.: sum_k w_ck f_k at each cell of the last feature map, min-max scaled; cell
    # (i, j) is centred on pixel (32 i, 32 j), where the upsampled map takes its value
    trunk = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1,
                          model.layer2, model.layer3, model.layer4)
    with fastconv.no_grad():
        f = trunk(x)
    for n in range(2):
        raw = np.einsum("k,khw->hw", model.fc.weight.data[target[n]], f[n])
        raw = (raw - raw.min()) / (raw.max() - raw.min())
        assert_close(cam[n][::32, ::32], raw)
    cam3 = viz.class_activation_map(model, x, target=3)
    assert cam3.shape == (2, 96, 64) and not np.allclose(cam3, cam)


def test_cam_input_forms_and_errors():
    model = models.simple_cnn().eval()
    x = randn((1, 8, 12), np.float32)
    assert viz.class_activation_map(model, x).shape == (1, 8, 12)
    assert np.all(viz.class_activation_map(model, randn((1, 1, 8, 8), np.float32)) == 0)  # 1x1 map
    with pytest.raises(ValueError, match="target"):
        viz.class_activation_map(model, x, target=10)
    with pytest.raises(ValueError, match="x"):
        viz.class_activation_map(model, np.zeros((8, 8), np.float32))
    with pytest.raises(TypeError, match="model"):
        viz.class_activation_map("resnet18", x)


def test_cam_box():
    cam = np.zeros((20, 30))
    cam[2:5, 3:6] = 1.0                  # small strong blob
    cam[10:18, 12:25] = 0.5              # larger, weaker region, above 20% of the maximum
    assert viz.cam_box(cam) == (12, 10, 25, 18)
    assert viz.cam_box(cam, threshold=0.6) == (3, 2, 6, 5)
    assert viz.cam_box(np.zeros((4, 4))) is None
    assert viz.cam_box(np.stack([cam, cam])) == [(12, 10, 25, 18)] * 2
    with pytest.raises(ValueError, match="threshold"):
        viz.cam_box(cam, threshold=2)


@pytest.fixture(scope="module")
def digit_model():
    """The demo's network, trained briefly (a few seconds)."""
    from fastconv.demo import train_digit_model
    prev = fastconv.get_num_threads()
    fastconv.set_num_threads(1)  # bit-identical training whatever the machine's thread count
    try:
        model, fcn, report = train_digit_model(epochs=6, scene_epochs=1, seed=0, crops=2000)
    finally:
        fastconv.set_num_threads(prev)
    assert report["test_accuracy"] > 0.85
    return model, fcn


def test_cam_peak_falls_on_the_right_digit(digit_model):
    from fastconv.datasets import digits
    from fastconv.demo import make_scene
    model, _ = digit_model
    x, y = digits("test")
    rng = np.random.default_rng(7)
    hits = {False: 0, True: 0}
    total = 0
    for _ in range(10):
        # five digits of different classes, so "the right digit" is unambiguous
        pick = np.array([rng.choice(np.flatnonzero(y == c)) for c in rng.permutation(10)[:5]])
        scene, placed = make_scene(x[pick], y[pick], rng, n_digits=5)
        for p in placed:
            total += 1
            for stitched in (False, True):
                cam = viz.class_activation_map(model, scene[None, None], p.label,
                                               shift_and_stitch=stitched)[0]
                py, px = np.unravel_index(np.argmax(cam), cam.shape)
                hits[stitched] += (p.top - 2 <= py < p.top + 10) and (p.left - 2 <= px < p.left + 10)
    # at stride 4 a digit halfway between two 8x8 windows is seen by neither; shift-and-stitch
    # gives every position a window
    assert hits[False] >= 0.6 * total, f"CAM peak on the right digit {hits[False]}/{total}"
    assert hits[True] >= 0.85 * total, f"stitched CAM peak on the right digit {hits[True]}/{total}"


def test_shift_and_stitch_interleaves_the_shifted_maps(digit_model):
    model, fcn = digit_model
    scene = np.random.default_rng(0).random((1, 1, 21, 26)).astype(np.float32)
    dense = viz.score_map(model, scene, shift_and_stitch=True)
    assert dense.stride == (1, 1) and dense.offset == (3.5, 3.5)
    assert dense.scores.shape == (1, 11, 13, 17)
    with fastconv.no_grad():
        for dy, dx in [(0, 0), (1, 3), (3, 2)]:
            s = fcn(np.ascontiguousarray(scene[:, :, dy:, dx:]))
            assert_close(dense.scores[:, :, dy::4, dx::4], s[:, :, :dense.scores[0, 0, dy::4].shape[0],
                                                             :dense.scores[0, 0, 0, dx::4].shape[0]])


# ---- pictures ------------------------------------------------------------------------------------

def test_overlay_writes_png(tmp_path):
    img = np.linspace(0, 1, 30 * 40).reshape(1, 30, 40)
    cam = np.zeros((30, 40))
    cam[10:20, 5:15] = 1
    path = tmp_path / "o.png"
    out = viz.overlay(img, cam, path, scale=3, box=viz.cam_box(cam), label="cat")
    assert _png(path) == (120, 90) and out.size == (120, 90)
    arr = np.asarray(out)
    assert arr[45, 30, 0] > arr[45, 30, 2]            # hot (red) inside the region
    assert arr[80, 100, 2] > arr[80, 100, 0]          # cold (blue) outside
    # a map of another size is resampled; a PIL image is accepted
    small = viz.overlay(Image.new("RGB", (40, 30)), np.ones((3, 4)), tmp_path / "p.png")
    assert small.size == (40, 30)
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay(img, cam, None, alpha=2)


def test_filter_grid_rgb_grey_and_multichannel(tmp_path):
    w = randn((8, 3, 3, 3), np.float32)
    size = _png_of(viz.filter_grid(w, tmp_path / "rgb.png", scale=4, ncols=4, pad=1), tmp_path / "rgb.png")
    assert size == (4 * 13 + 1, 2 * 13 + 1)
    grey = viz.filter_grid(randn((16, 1, 3, 3)), tmp_path / "g.png", scale=2, pad=1)
    assert grey.size == (4 * 7 + 1, 4 * 7 + 1)
    multi = viz.filter_grid(randn((4, 5, 3, 3)), None, scale=1, pad=1)
    assert multi.size == (5 * 4 + 1, 4 * 4 + 1)                       # a row of 5 tiles per filter
    # zero weights are mid-grey, the sign reads as lighter or darker
    w = np.zeros((1, 1, 1, 3))
    w[0, 0, 0] = [-1, 0, 1]
    assert np.asarray(viz.filter_grid(w, None, scale=1, pad=0))[0, :, 0].tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match="weight"):
        viz.filter_grid(np.zeros((3, 3)), None)


def _png_of(img, path):
    assert img.size == _png(path)
    return img.size


def test_activation_grid_and_layer_output(tmp_path):
    model = models.simple_cnn()
    x = randn((1, 1, 8, 8), np.float32, seed=3)
    out = viz.layer_output(model, x, "features.1")
    with fastconv.no_grad():
        assert_close(out, model.features[1](model.features[0](x.copy())))
    img = viz.activation_grid(model, x, "features.1", tmp_path / "a.png", ncols=4, pad=1)
    assert _png(tmp_path / "a.png") == img.size == (4 * 33 + 1, 4 * 33 + 1)
    assert viz.layer_output(model, x, model.features).shape == (1, 32, 2, 2)   # a container: its end
    with pytest.raises(ValueError, match="layer"):
        viz.layer_output(model, x, "features.9")
    with pytest.raises(ValueError, match="one image"):
        viz.activation_grid(model, np.zeros((2, 1, 8, 8), np.float32), "features.1", None)


# ---- feature visualisation -----------------------------------------------------------------------

@pytest.mark.parametrize("build,layer,channel,size", [
    (lambda: models.simple_cnn(), "features.4", 5, None),
    (lambda: models.resnet18(num_classes=4), "layer2", 7, 32),
])
def test_maximize_activation_increases_the_activation(build, layer, channel, size):
    model = build()
    flags = [p.requires_grad for p in model.parameters()]
    model.train()
    start = (0.01 * np.random.default_rng(0).standard_normal(
        (1, 1 if size is None else 3) + ((8, 8) if size is None else (size, size)))).astype(np.float32)
    img, history = viz.maximize_activation(model, layer, channel, steps=20, init=start,
                                           return_history=True)
    assert img.shape == start.shape and img.dtype == np.float32
    before = viz.layer_output(model, start, layer)[0, channel].mean()
    after = viz.layer_output(model, img, layer)[0, channel].mean()
    assert after > before + 0.1 and after > 2 * abs(before), (before, after)
    assert history[-1] > history[0]
    # the model is left as it was: no gradients, same flags, back in training mode
    assert all(p.grad is None for p in model.parameters())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(m.training for m in model.modules())


def test_maximize_activation_from_noise_on_the_trained_digits(digit_model, tmp_path):
    model, _ = digit_model
    img = viz.maximize_activation(model, "classifier.2", 3, steps=30, lr=0.1, seed=1)
    scores = viz.layer_output(model, img, "classifier.2")[0]
    assert scores.argmax() == 3                       # the image reads as a "3" to the network
    viz.save_image(img, tmp_path / "three.png", scale=8)
    assert _png(tmp_path / "three.png") == (64, 64)
    with pytest.raises(ValueError, match="channel"):
        viz.maximize_activation(model, "features.1", 99, steps=1)


# ---- fastconv localize ---------------------------------------------------------------------------

def test_localize_command_on_a_digit_scene(digit_model, tmp_path, capsys):
    from fastconv import io
    from fastconv.cli import main
    from fastconv.datasets import digits
    from fastconv.demo import CLASSES, make_scene
    model, _ = digit_model
    weights = tmp_path / "digits.safetensors"
    io.save(model.state_dict(), weights)
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    x, y = digits("test")
    scene, placed = make_scene(x, y, np.random.default_rng(3), n_digits=4)
    Image.fromarray(np.round(scene * 255).astype(np.uint8)).save(tmp_path / "scene.png")
    target = placed[0]
    out = tmp_path / "loc.png"
    assert main(["localize", str(tmp_path / "scene.png"), "--arch", "simple_cnn", "--weights", str(weights),
                 "--target", str(target.label), "--labels", str(tmp_path / "classes.txt"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"class {target.label}" in text and "score map 15x23" in text
    assert _png(out) == (96 * 4, 64 * 4)   # enlarged to at least 256 pixels
    x0, y0, x1, y1 = (int(v) for v in text.split("box ")[1].split(",")[0].replace("x0=", "").replace(
        "y0=", "").replace("x1=", "").replace("y1=", "").split())
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    assert target.left - 2 <= cx <= target.left + 10 and target.top - 2 <= cy <= target.top + 10
    # top class: never "background" when the labels name it
    assert main(["localize", str(tmp_path / "scene.png"), "--arch", "simple_cnn", "--weights", str(weights),
                 "--labels", str(tmp_path / "classes.txt"), "-o", str(out)]) == 0
    assert "class background" not in capsys.readouterr().out


def test_localize_command_resnet_and_errors(tmp_path, capsys):
    from fastconv import io
    from fastconv.cli import main
    model = models.resnet18(num_classes=3)
    io.save(model.state_dict(), tmp_path / "r.npz")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 70, 3)).astype(np.uint8)).save(tmp_path / "i.jpg")
    assert main(["localize", str(tmp_path / "i.jpg"), "--arch", "resnet18", "--weights", str(tmp_path / "r.npz"),
                 "--size", "64", "-o", str(tmp_path / "o.png")]) == 0
    assert "score map 2x3" in capsys.readouterr().out
    assert _png(tmp_path / "o.png") == (90 * 4, 64 * 4)
    assert main(["localize", str(tmp_path / "i.jpg"), "--arch", "resnet18", "--weights", str(tmp_path / "r.npz"),
                 "--target", "7", "-o", str(tmp_path / "o.png")]) == 1
    assert "--target" in capsys.readouterr().err
    (tmp_path / "n.png").write_bytes(b"not an image")
    assert main(["localize", str(tmp_path / "n.png"), "--arch", "resnet18", "--weights", str(tmp_path / "r.npz")]) == 1
    assert "n.png" in capsys.readouterr().err
