"""The environment check of notebook 00: vggattn's declared version floors against what is installed.

The floors live in one place, `pyproject.toml`'s `dependencies` (read back from the installed package's
metadata); the exact versions the notebooks were executed with are the `course` extra's pins.
"""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement


def requirement_checks(distribution: str = "vggattn") -> dict[str, bool]:
    """{requirement as declared (e.g. "torch>=2.2"): whether the installed version satisfies it}.

    Only the unconditional requirements (not the extras). A package that is not installed fails its check.
    """
    try:
        declared = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            f"{distribution} is not installed, so its requirements cannot be read: run `make install` "
            f"(or `pip install -e .` in the project folder)"
        ) from None
    checks = {}
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is not None:  # an extra, e.g. 'pytest>=8; extra == "test"'
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            checks[str(requirement)] = False
            continue
        checks[str(requirement)] = requirement.specifier.contains(installed, prereleases=True)
    return checks
