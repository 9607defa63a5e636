"""Fixtures shared by every test file: real CIFAR-10 when available, else a tiny random stand-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from helpers import write_imagefolder

from vggattn import paths
from vggattn.data import CIFAR10_CLASSES, CifarTensors, DataError, find_data_root


@pytest.fixture(scope="session")
def cifar_root() -> Path:
    """The real CIFAR-10 root from ``$VGGATTN_DATA``; the test is skipped when there is none."""
    if not os.environ.get("VGGATTN_DATA"):
        pytest.skip("needs real CIFAR-10: export VGGATTN_DATA=/path/to/cifar10")
    try:
        root, _layout = find_data_root(os.environ["VGGATTN_DATA"])
    except DataError as error:
        pytest.skip(f"needs real CIFAR-10, $VGGATTN_DATA holds none: {error}")
    return root


@pytest.fixture
def tiny_cifar() -> CifarTensors:
    """200 random uint8 images, 20 per class, grouped by class (as an ImageFolder copy is); fixed seed."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (200, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.arange(len(CIFAR10_CLASSES)).repeat_interleave(20)  # (200,) 0,0,...,9,9
    return CifarTensors(images, labels, CIFAR10_CLASSES, "tiny_cifar test fixture (random pixels)")


@pytest.fixture
def seed_and_one_thread() -> Iterator[None]:
    """Seed 0 and one torch thread: tiny models run 10-100x slower with two threads on a shared 2-core CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def imagefolder_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny CIFAR-10 ImageFolder copy (`helpers.write_imagefolder`) in tmp_path; no real data ($VGGATTN_DATA
    unset), the default data and cache folders in tmp_path too."""
    monkeypatch.delenv("VGGATTN_DATA", raising=False)
    monkeypatch.setattr(paths, "data_dir", lambda: tmp_path / "default-data")
    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path / "cache")
    root = tmp_path / "jpg-copy"
    write_imagefolder(root)
    return root
