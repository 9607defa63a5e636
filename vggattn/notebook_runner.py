"""Execute the course notebooks in order and write `results/summary.md` with the claims audit (`make run`).

    python -m vggattn.notebook_runner notebooks/00_setup_and_data.ipynb ...   # copies in results/notebooks/
    python -m vggattn.notebook_runner --inplace notebooks/*.ipynb             # what maintainers commit

Each notebook runs top to bottom in a fresh kernel from the `notebooks/` folder. A notebook that fails is
reported with the failing cell and the run goes on with the next one; the exit status is non-zero if any
failed. Stored outputs are checked too: a warning on stderr counts as a problem. With `--inplace` only a
notebook that ran cleanly replaces the original; a failed run is written to `results/notebooks/` instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .paths import display_path, results_dir
from .results import clear_figures, read_figures

WARNING_PATTERN = re.compile(r"\b\w*Warning\b")
AUDIT_NOTEBOOK = "07_comparison"
"""The notebook whose claims audit `make run` appends to results/summary.md."""


@dataclass
class NotebookRun:
    name: str
    seconds: float
    ok: bool
    problems: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def summary_line(self) -> str:
        status = "ran" if self.ok else "FAILED"
        figures = ", ".join(f"{k}={_format(v)}" for k, v in sorted(self.figures.items()))
        problems = f" Problems: {'; '.join(self.problems)}." if self.problems else ""
        return f"- `{self.name}`: {status} in {self.seconds:.0f} s. {figures or 'no figures recorded'}.{problems}"


def _format(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def stored_output_problems(notebook) -> list[str]:
    """Warnings or errors among a notebook's outputs (they must never be committed)."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {index}: error {output.get('ename')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                match = WARNING_PATTERN.search(output.get("text", ""))
                if match:
                    problems.append(f"cell {index}: {match.group(0)} on stderr")
    return problems


def run_notebook(path: Path, out_path: Path, timeout: int = 900, failed_path: Path | None = None) -> NotebookRun:
    """Execute `path` and write it to `out_path` (to `failed_path`, when given, if the run has problems)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    name = path.stem
    clear_figures(name)
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("widgets", None)  # a previous run's widget state; progress bars' state is not kept
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,
    )
    start = time.perf_counter()
    problems: list[str] = []
    try:
        client.execute()
    except CellExecutionError as error:
        problems.append(str(error).strip().splitlines()[-1][:300])
    seconds = time.perf_counter() - start
    problems += stored_output_problems(notebook)
    if problems and failed_path is not None:
        out_path = failed_path
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out_path)
    return NotebookRun(name, seconds, ok=not problems, problems=problems, figures=read_figures(name))


def _run_record(name: str) -> Path:
    return results_dir() / "runs" / f"{name}.json"


def save_run(run: NotebookRun) -> None:
    """Keep each notebook's last run, so running one notebook does not drop the others from the summary."""
    path = _run_record(run.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seconds": run.seconds, "ok": run.ok, "problems": run.problems}), encoding="utf-8")


def audit_lines() -> list[str]:
    """The claims audit as a Markdown section: the rows notebook 07 recorded in its last run (with this machine's
    CPU timings and the trained gates), else `vggattn.audit.audit_claims()` (the store and exact counts only)."""
    from .audit import audit_claims, verdict_counts
    from .claims import claims_markdown, read_claims

    rows = read_claims(AUDIT_NOTEBOOK)
    source = f"as `{AUDIT_NOTEBOOK}` recorded it"
    if not rows:
        rows, source = audit_claims(), "from the experiment store and exact counts (`vggattn.audit.audit_claims()`)"
    counts = ", ".join(f"{n} {verdict}" for verdict, n in verdict_counts(rows).items())
    return ["", "## The claims audit", "", f"{len(rows)} claims ({counts}), {source}.", "", claims_markdown(rows)]


def write_summary(notebooks: list[Path], path: Path) -> None:
    """One line per notebook of the folder(s) given that has been run, in file order, with its latest figures;
    then, when the folder holds the comparison notebook, the claims audit (`audit_lines`)."""
    lines = ["# Results of `make run`", ""]
    folder_notebooks = sorted({p for nb in notebooks for p in nb.parent.glob("[0-9][0-9]_*.ipynb")})
    for notebook in folder_notebooks:
        record = _run_record(notebook.stem)
        if record.is_file():
            saved = json.loads(record.read_text(encoding="utf-8"))
            lines.append(NotebookRun(notebook.stem, figures=read_figures(notebook.stem), **saved).summary_line())
    if any(notebook.stem == AUDIT_NOTEBOOK for notebook in folder_notebooks):
        lines += audit_lines()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines + [""]), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vggattn.notebook_runner",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks to execute, in this order")
    parser.add_argument("--inplace", action="store_true", help="overwrite the notebooks with their executed versions")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell (default 900)")
    args = parser.parse_args(argv)

    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")

    runs = []
    for path in args.notebooks:
        copy_path = results_dir() / "notebooks" / path.name
        print(f"running {path.name} ...", flush=True)
        if args.inplace:  # never replace a committed notebook with a failed run
            run = run_notebook(path, path, timeout=args.timeout, failed_path=copy_path)
        else:
            run = run_notebook(path, copy_path, timeout=args.timeout)
        print(run.summary_line(), flush=True)
        if args.inplace and not run.ok:
            print(f"  {path.name} left as it was; the failed run is in {display_path(copy_path)}", flush=True)
        save_run(run)
        runs.append(run)
    summary = results_dir() / "summary.md"
    write_summary(args.notebooks, summary)
    print(f"wrote {display_path(summary)}")
    return 0 if all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
