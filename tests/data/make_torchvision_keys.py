"""One-off generator of tests/data/torchvision_keys/<arch>.txt (not run by the tests).

torchvision itself is not installed (it would pull a CUDA build of torch), so this takes
torchvision's published architectures (torchvision/models/vgg.py and resnet.py, v0.13+) as rebuilt
with plain torch.nn in fastconv/_torch_models.py, writes each ordered state_dict as
"key<TAB>shape<TAB>dtype" lines, and checks the parameter counts against the numbers documented by
torchvision.

    PYTHONPATH=. python tests/data/make_torchvision_keys.py
"""
import os

from fastconv._torch_models import BUILDERS

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchvision_keys")

# torchvision's documented parameter counts (the facts the generated files are checked against)
DOCUMENTED = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
}


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, build in BUILDERS.items():
        model = build()
        count = sum(p.numel() for p in model.parameters())
        assert count == DOCUMENTED[name], (name, count, DOCUMENTED[name])
        with open(os.path.join(HERE, name + ".txt"), "w") as f:
            f.write(f"# torchvision {name}: {count} parameters; key<TAB>shape<TAB>dtype (state_dict order)\n")
            for key, value in model.state_dict().items():
                dtype = str(value.dtype).replace("torch.", "")
                f.write(f"{key}\t{','.join(map(str, value.shape))}\t{dtype}\n")
        print(f"{name}: {count:,} parameters, {len(model.state_dict())} entries")


if __name__ == "__main__":
    main()
