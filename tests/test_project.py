"""The project's contract: one source of pinned versions, every notebook listed and committed executed."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _environment_yml_lines() -> list[str]:
    lines = (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_course_extra_pins_torch_and_torchvision_exactly():
    course = _pyproject()["project"]["optional-dependencies"]["course"]
    assert "torch==2.14.1" in course and "torchvision==0.29.1" in course


def test_environment_yml_agrees_with_pyproject():
    project = _pyproject()["project"]
    lines = _environment_yml_lines()
    # python version: environment.yml's must satisfy requires-python
    python = [l for l in lines if re.fullmatch(r"- python\s*=+\s*[\d.]+", l)]
    assert len(python) == 1, f"environment.yml must pin python once, found {python}"
    version = tuple(int(p) for p in re.findall(r"\d+", python[0])[:2])
    minimum = tuple(int(p) for p in re.findall(r"\d+", project["requires-python"])[:2])
    assert version >= minimum, f"environment.yml python {version} is below requires-python {minimum}"
    # the pip section installs this project with the same extras as the Makefile
    pip_lines = [l for l in lines if l.startswith("- -e .")]
    assert pip_lines == ["- -e .[course,notebooks,test,export]"], pip_lines
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert '-e ".[course,notebooks,test,export]"' in makefile
    for extra in ("course", "notebooks", "test", "export"):
        assert extra in project["optional-dependencies"]
    # no version is stated twice: any package pinned in environment.yml must match pyproject's pin
    pins = {}
    for requirement in project["dependencies"] + sum(project["optional-dependencies"].values(), []):
        name, _, version = requirement.partition("==")
        if version:
            pins[name.strip().lower()] = version.strip()
    for line in lines:
        match = re.fullmatch(r"- ([A-Za-z0-9_.-]+)\s*==?\s*([\w.]+)", line)
        if match and match.group(1).lower() in pins:
            assert pins[match.group(1).lower()] == match.group(2), f"{line} disagrees with pyproject.toml"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and re.search(r"^make test$", ci, re.M)
    assert "set -euo pipefail" in ci


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no NN_topic.ipynb"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_listed_in_readme_and_make_run(notebook):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"notebooks/{notebook.name}" in readme, f"{notebook.name} is missing from the README's table of contents"
    dry_run = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert f"notebooks/{notebook.name}" in dry_run, f"{notebook.name} is not executed by make run"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed_and_clean(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"execution counts {counts}: re-run top to bottom"
    for index, cell in enumerate(code, start=1):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"cell [{index}] stores an error"
            text = "".join(output.get("text", "")) + json.dumps(output.get("data", {}).get("text/plain", ""))
            assert not re.search(r"/(work|tmp|root|home|Users)/", text), f"cell [{index}] shows a machine path"
            if output.get("name") == "stderr":
                assert "Warning" not in text, f"cell [{index}] stores a warning: {text[:200]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_text_has_no_control_characters(notebook):
    """A stray escape (a tab or bell from "\\times" or "\\approx" written in a Python string) breaks the LaTeX."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        bad = sorted({f"0x{ord(ch):02x}" for ch in source if ord(ch) < 32 and ch != "\n"})
        assert not bad, f"cell {index} ({cell['cell_type']}) holds control characters {bad}: {source[:80]!r}"


def test_data_folder_commits_only_what_the_project_writes():
    tracked = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:  # not a git checkout (e.g. an sdist): nothing to check
        pytest.skip("not a git checkout")
    assert sorted(tracked) == ["data/.gitignore", "data/README.md"]
