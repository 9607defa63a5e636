"""Where a stored result came from: code, machine, data, time.

Every stored result carries `provenance(...)`: the spec hash, the package version and git commit, the torch
version, the CPU model and the flags that decide its speed and precision, the threads, the device and the
precision computed in, the wall time, the date and the data source with a fingerprint of its content.
"""

from __future__ import annotations

import datetime
import hashlib
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from .. import __version__, paths
from ..data import CifarTensors
from ..runtime import cpu_flags

SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
"""The x86 CPU flags that decide how fast (and, with "auto" mixed precision, in what precision) a run trains."""


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def speed_flags() -> list[str]:
    """Which of `SPEED_FLAGS` this CPU has (empty off Linux)."""
    present = cpu_flags()
    return [flag for flag in SPEED_FLAGS if flag in present]


def git_state() -> dict[str, Any]:
    """The project's git commit and whether the package's code differed from it (None outside a checkout)."""
    root = paths.project_root()

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--", "vggattn", "pyproject.toml")
    return {"git_commit": commit, "code_changed_since_commit": bool(changed) if commit else None}


def data_fingerprint(train: CifarTensors, test: CifarTensors) -> str:
    """16 hex digits of the SHA-256 of both full splits' images and labels: the same pixels, the same print."""
    digest = hashlib.sha256()
    for split in (train, test):
        digest.update(split.images.contiguous().numpy().tobytes())
        digest.update(split.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def data_source(train: CifarTensors, test: CifarTensors) -> dict[str, Any]:
    """What the data was: the offline JPEG copy (an ImageFolder) or the canonical archive, sizes and fingerprint."""
    canonical = train.source.startswith("canonical")
    return {
        "layout": "canonical" if canonical else "imagefolder",
        "name": "the canonical CIFAR-10 archive" if canonical else "an ImageFolder copy (the offline JPEG copy)",
        "train_images": len(train),
        "test_images": len(test),
        "fingerprint": data_fingerprint(train, test),
    }


def describe_data(source: dict[str, Any]) -> str:
    return f"{source['name']}, {source['train_images']:,} training and {source['test_images']:,} test images"


def provenance(
    *,
    spec_hash: str,
    name: str,
    device: torch.device,
    precision: str,
    wall_seconds: float,
    train_seconds: float,
    source: dict[str, Any],
) -> dict[str, Any]:
    return {
        "spec_hash": spec_hash,
        "command": f"python -m vggattn experiments run {name}",
        "package_version": __version__,
        **git_state(),
        "torch_version": str(torch.__version__),
        "python_version": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_flags": speed_flags(),
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "precision": precision,
        "wall_seconds": round(wall_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "data_source": source,
    }
