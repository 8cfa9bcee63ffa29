"""Data pipeline throughput: the ImageNet preset per image, and ImageFolder batches with 0 vs 2 workers.

    pytest benchmarks/bench_data.py --benchmark-enable          # pytest-benchmark, group "data"

Images are written by the benchmark itself (random JPEGs of 500x375, a typical ImageNet size).
Compare numbers of one run only: the machine is shared.
"""
import numpy as np
import pytest
from PIL import Image

from fastconv.data import DataLoader, ImageFolder, load_image
from fastconv.data.transforms import imagenet_transform

N_IMAGES = 32


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        cls = root / f"class{i % 2}"
        cls.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)).save(cls / f"{i}.jpg", quality=90)
    return root


@pytest.mark.benchmark(group="data")
def test_imagenet_transform_one_image(benchmark, folder):
    path = next(folder.glob("class0/*.jpg"))
    tf = imagenet_transform()
    out = benchmark(lambda: tf(load_image(path)))
    assert out.shape == (3, 224, 224)


@pytest.mark.benchmark(group="data")
@pytest.mark.parametrize("workers", [0, 2])
def test_imagefolder_epoch(benchmark, folder, workers):
    loader = DataLoader(ImageFolder(folder, transform=imagenet_transform()), batch_size=8, num_workers=workers)
    n = benchmark.pedantic(lambda: sum(len(x) for x, _ in loader), rounds=3, iterations=1)
    assert n == N_IMAGES
