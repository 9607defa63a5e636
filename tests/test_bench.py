"""The benchmarks (`python -m vggattn.bench NAME`) run on tiny settings and print what they promise.

Their figures are measured by hand on a real machine (each benchmark's docstring says how); these smoke tests
check that every benchmark runs, shows its help and prints its rows and ratios.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from vggattn.bench import models as bench_models
from vggattn.inspection import count_parameters
from vggattn.models import build_vgg

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


def test_dynamic_benchmark_prints_every_position_relative_to_plain(capsys: pytest.CaptureFixture[str]) -> None:
    from vggattn.bench import dynamic as bench_dynamic

    argv = ["--width", "0.0625", "--batch", "2", "--repeats", "1", "--threads", str(torch.get_num_threads())]
    assert bench_dynamic.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.split()[0].endswith("ch")]
    assert [row.split()[1] for row in rows] == [f"{size}x{size}" for _, size in bench_dynamic.POSITIONS]
    ratios = [re.findall(r"\(\s*([0-9.]+)x\)", row) for row in rows]  # plain, mix_kernels, mix_outputs
    assert all(len(row) == 3 and row[0] == "1.00" for row in ratios)  # the plain column is relative to itself
    assert [row.split()[-1] for row in rows] == ["mix_kernels"] * 2 + ["mix_outputs"] * 3  # 32x32, 16x16 | 8x8 ...
    assert bench_dynamic.main([*argv[:2], "--batch", "1", *argv[4:]]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.split()[0].endswith("ch")]
    assert [row.split()[-1] for row in rows] == ["mix_kernels"] * 5  # as forward: batch 1 always mixes kernels


# --- DynamicConv2d symmetry break ------------------------------------------------------------------


def test_data_benchmark_runs_on_a_tiny_copy(imagefolder_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vggattn.bench import data as data_benchmark

    argv = [
        "--root",
        str(imagefolder_root),
        "--images",
        "40",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--steps",
        "1",
        "--threads",
        "1",
    ]
    threads = torch.get_num_threads()
    try:
        assert data_benchmark.main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    assert "1 torch thread(s)" in printed
    assert "decode without cache, 60 images" in printed and "load from cache,      60 images" in printed
    assert "DataLoader + transforms.v2, num_workers=0" in printed and "x faster (goal >= 10x" in printed
    assert "of pipeline + step (goal < 5%" in printed


def test_models_benchmark_prints_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_models.main(["--width", "0.0625", "--batch", "2", "--repeats", "1", "--no-peak"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert set(bench_models.VARIANTS) <= set(rows)
    assert rows["plain"][4] == "1.00"  # train time relative to itself
    assert rows["se"][-1] == "n/a"  # peak memory skipped


def test_peak_train_memory_is_measured_in_a_fresh_process() -> None:
    peak = bench_models.peak_train_memory("plain", 0.0625, 2, 1)
    if peak is None:
        pytest.skip("no peak-RSS reading on this platform")
    # the weights alone (x3 with gradients and momentum) are at least 3 * 4 bytes per parameter
    assert peak >= 3 * 4 * count_parameters(build_vgg(16, True, 0.0625, head="cifar"))


@pytest.mark.parametrize("benchmark", ["allocator", "data", "dynamic", "engine", "models"])
def test_every_benchmark_shows_its_own_help(benchmark, capsys):
    from vggattn.bench.__main__ import main as bench_main

    with pytest.raises(SystemExit) as exit_:
        bench_main([benchmark, "--help"])
    assert exit_.value.code == 0
    assert f"usage: python -m vggattn.bench {benchmark}" in capsys.readouterr().out
