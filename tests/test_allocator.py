"""retain_freed_memory(): freed tensors are reused instead of being faulted in again (Linux with glibc only)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from vggattn.allocator import retain_freed_memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# In a fresh process: train steps of a small conv net whose activations are 4 MiB tensors (batch 64, 16 x 32 x 32);
# print the minor page faults of seven steps after four warm-up steps: their median (the heap may still grow once
# in a while, faulting in a few MiB in one step) and their total.
FAULTS_PER_TRAIN_STEP = """
import json, resource, statistics, sys, torch
from vggattn.allocator import retain_freed_memory
from vggattn.profiling import train_step
applied = retain_freed_memory() if sys.argv[1] == "retain" else False
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                            torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
for _ in range(4):
    train_step(model, optimizer, x, y)
faults = []
for _ in range(7):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    train_step(model, optimizer, x, y)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "median": statistics.median(faults), "total": sum(faults), "all": faults}))
"""


def faults_per_train_step(setting: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", FAULTS_PER_TRAIN_STEP, setting], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_retain_freed_memory_reports_whether_it_applies_and_is_idempotent() -> None:
    assert retain_freed_memory() is GLIBC
    assert retain_freed_memory() is GLIBC


@pytest.mark.skipif(not GLIBC, reason="retain_freed_memory() tunes glibc's malloc only")
def test_train_steps_reuse_freed_memory_instead_of_faulting_it_in_again() -> None:
    default, retained = faults_per_train_step("default"), faults_per_train_step("retain")
    assert retained["applied"] is True
    pages_per_activation = 64 * 16 * 32 * 32 * 4 // 4096  # 1,024 pages of 4 KiB
    # glibc's default maps large blocks afresh; how often varies with its adaptive threshold (8,000-49,000 seen)
    assert default["total"] >= pages_per_activation, default
    assert retained["median"] < pages_per_activation // 16, retained  # kept in the heap and reused: 0 seen
