"""`make run`'s runner: problems in stored outputs are found, and the summary keeps every notebook's last run."""

from __future__ import annotations

import nbformat

from vggattn.notebook_runner import NotebookRun, main, save_run, stored_output_problems, write_summary
from vggattn.results import record_figures


def test_stored_output_problems_finds_warnings_and_errors():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x", outputs=[nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful")]
            ),
            nbformat.v4.new_code_cell(
                "y", outputs=[nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])]
            ),
            nbformat.v4.new_code_cell(
                "z", outputs=[nbformat.v4.new_output("stream", name="stdout", text="Warning is fine on stdout")]
            ),
        ]
    )
    assert stored_output_problems(notebook) == ["cell 0: UserWarning on stderr", "cell 1: error ValueError"]


def test_summary_keeps_notebooks_run_separately(tmp_path, monkeypatch):
    monkeypatch.setenv("VGGATTN_RESULTS", str(tmp_path / "results"))
    folder = tmp_path / "notebooks"
    folder.mkdir()
    first, second = folder / "00_a.ipynb", folder / "01_b.ipynb"
    for path in (first, second):
        nbformat.write(nbformat.v4.new_notebook(), path)
    record_figures("00_a", accuracy=0.5)
    save_run(NotebookRun("00_a", seconds=3.0, ok=True))
    save_run(NotebookRun("01_b", seconds=4.0, ok=False, problems=["cell 2: error KeyError"]))
    summary = tmp_path / "results" / "summary.md"
    write_summary([second], summary)  # only the second was run now: the first stays in the summary
    lines = summary.read_text().splitlines()
    assert lines[2] == "- `00_a`: ran in 3 s. accuracy=0.5."
    assert lines[3] == "- `01_b`: FAILED in 4 s. no figures recorded. Problems: cell 2: error KeyError."


def test_inplace_run_that_fails_leaves_the_notebook_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setenv("VGGATTN_RESULTS", str(tmp_path / "results"))
    path = tmp_path / "notebooks" / "05_broken.ipynb"
    path.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), path)
    before = path.read_bytes()
    assert main(["--inplace", str(path)]) == 1
    assert path.read_bytes() == before  # the committed notebook is not replaced by a failed run
    failed = nbformat.read(tmp_path / "results" / "notebooks" / "05_broken.ipynb", as_version=4)
    assert failed.cells[0].outputs[0]["ename"] == "ZeroDivisionError"
    assert "FAILED" in (tmp_path / "results" / "summary.md").read_text()


def test_a_run_drops_stale_widget_state(tmp_path, monkeypatch):
    monkeypatch.setenv("VGGATTN_RESULTS", str(tmp_path / "results"))
    path = tmp_path / "notebooks" / "05_tiny.ipynb"
    path.parent.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"old": {}}}}
    nbformat.write(notebook, path)
    assert main(["--inplace", str(path)]) == 0
    ran = nbformat.read(path, as_version=4)
    assert "widgets" not in ran.metadata  # e.g. progress bars of an earlier run, 140 KB in notebook 01
    assert ran.cells[0].outputs[0]["text"] == "42\n"
