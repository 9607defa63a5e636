"""Notebook 00's environment check reads the floors from the installed package's metadata."""

from __future__ import annotations

from importlib import metadata

import pytest

from vggattn import environment
from vggattn.environment import requirement_checks


def test_every_declared_floor_holds_in_the_test_environment() -> None:
    checks = requirement_checks()
    assert {"torch>=2.2", "torchvision>=0.17"} <= set(checks)  # as declared in pyproject.toml
    assert not any("extra" in name for name in checks)  # the extras (course pins, test tools) are left out
    assert all(checks.values()), checks


def test_an_old_or_missing_package_fails_its_check(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = ["torch>=2.2", "absentpkg>=1", 'pytest>=8; extra == "test"']
    versions = {"torch": "2.1.0+cpu"}

    def version(name: str) -> str:
        if name not in versions:
            raise metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(environment.metadata, "requires", lambda distribution: declared)
    monkeypatch.setattr(environment.metadata, "version", version)
    assert requirement_checks() == {"torch>=2.2": False, "absentpkg>=1": False}


def test_an_uninstalled_distribution_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"not-a-course is not installed.*make install"):
        requirement_checks("not-a-course")
