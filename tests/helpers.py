"""What several test files build: the tiny VGG and a tiny CIFAR-10 ImageFolder copy (pytest puts tests/ on the path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vggattn.data import CIFAR10_CLASSES

TINY_VGG = dict(depth=11, batch_norm=True, width=1 / 16, head="cifar", num_classes=10)
"""`build_vgg(**TINY_VGG)`: VGG11-BN at 1/16 width (4 to 32 channels), a one-Linear CIFAR head: trains in seconds."""

TRAIN_PER_CLASS = 4
TEST_PER_CLASS = 2


def blocky_image(rng: np.random.Generator) -> np.ndarray:
    """A (32, 32, 3) image of random 8x8 single-colour blocks: JPEG without chroma subsampling keeps it nearly exact."""
    return rng.integers(0, 256, (4, 4, 3), dtype=np.uint8).repeat(8, axis=0).repeat(8, axis=1)


def write_imagefolder(root: Path, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """root/{train,test}/CLASS/NNNN.png|jpg, TRAIN_PER_CLASS and TEST_PER_CLASS blocky images per class: even files
    PNG, odd files JPEG (quality 95, no chroma subsampling). Returns each split's pixels (H, W, C) in file order."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[np.ndarray]] = {}
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        written[split] = []
        for name in CIFAR10_CLASSES:
            (root / split / name).mkdir(parents=True)
            for index in range(per_class):
                pixels = blocky_image(rng)
                suffix = ".png" if index % 2 == 0 else ".jpg"
                options = {"quality": 95, "subsampling": 0} if suffix == ".jpg" else {}
                Image.fromarray(pixels).save(root / split / name / f"{index:04d}{suffix}", **options)
                written[split].append(pixels)
    return written
