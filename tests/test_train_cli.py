"""`fastconv train` on the digits and on an ImageFolder directory."""
import numpy as np
import pytest
from PIL import Image

from fastconv import cli, train


def test_train_digits_checkpoint_and_resume(tmp_path, capsys):
    ckpt = tmp_path / "digits.ckpt.npz"
    weights = tmp_path / "digits.safetensors"
    assert cli.main(["train", "--epochs", "1", "--batch-size", "64", "--no-progress", "--out", str(ckpt),
                     "--save-weights", str(weights)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("test accuracy: ") and "(359 images)" in out
    assert err == ""
    assert train.load_checkpoint(ckpt)["epoch"] == 1 and weights.exists()
    with pytest.warns(RuntimeWarning, match="planned for 1 epochs"):
        assert cli.main(["train", "--epochs", "2", "--batch-size", "64", "--out", str(ckpt), "--resume"]) == 0
    out, err = capsys.readouterr()
    assert "resumed from" in err and "epoch 2/2" in err
    assert train.load_checkpoint(ckpt)["epoch"] == 2


def test_train_image_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for cls, colour in (("blue", (0, 0, 255)), ("red", (255, 0, 0))):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(8):
            arr = np.clip(np.array(colour) + rng.integers(-40, 40, (12, 14, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / "imgs" / cls / f"{i}.png")
    assert cli.main(["train", "--data", str(tmp_path / "imgs"), "--image-size", "8", "--epochs", "3",
                     "--batch-size", "4", "--lr", "0.05", "--no-progress", "--workers", "2"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("val accuracy: ") and "(3 images)" in out


def test_train_bad_arguments(tmp_path, capsys):
    assert cli.main(["train", "--data", str(tmp_path / "missing"), "--no-progress"]) == 1
    assert "neither 'digits' nor a directory" in capsys.readouterr().err
    assert cli.main(["train", "--resume", "--no-progress"]) == 1
    assert "--resume needs --out" in capsys.readouterr().err
    assert cli.main(["train", "--epochs", "0"]) == 1
    assert cli.main(["train", "--arch", "alexnet", "--epochs", "1", "--no-progress"]) == 1
    assert "--arch must be one of" in capsys.readouterr().err
