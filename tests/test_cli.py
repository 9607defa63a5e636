"""`python -m vggattn train|experiments`: options, files written, resume, fine-tuning, errors as usage messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_imagefolder

from vggattn.__main__ import RECIPE_OPTIONS, main
from vggattn.checkpoints import load_checkpoint

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


@pytest.fixture
def image_folder(tmp_path, monkeypatch) -> Path:
    """A tiny CIFAR-10 ImageFolder copy (4 train and 2 test images per class); cwd and caches inside tmp_path."""
    monkeypatch.chdir(tmp_path)  # no pyproject above: the project root, its data cache and runs/ are here
    monkeypatch.delenv("VGGATTN_DATA", raising=False)
    root = tmp_path / "cifar"
    write_imagefolder(root)
    return root


def tiny_train_args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--model",
        "vgg11",
        "--width",
        "0.0625",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--data-root",
        str(root),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--no-progress",
        *extra,
    ]


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for option in RECIPE_OPTIONS:  # every recipe option the CLI sets, with TrainConfig's help for it
        assert f"--{option.name.replace('_', '-')}" in text and " ".join(option.metadata["help"].split()) in text
    with pytest.raises(SystemExit):
        main(["experiments", "run", "--help"])
    assert "--force" in capsys.readouterr().out


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run([sys.executable, "-m", "vggattn", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "{train,experiments,compare}" in result.stdout and result.stderr == ""


def test_train_writes_history_and_checkpoint(image_folder, tmp_path, capsys):
    out = tmp_path / "runs" / "se"
    assert main(tiny_train_args(image_folder, out, "--attention", "se", "--seed", "3")) == 0

    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert (out / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    checkpoint = load_checkpoint(out / "last.pt")
    assert checkpoint["model_config"]["attention"] == "se" and checkpoint["model_config"]["width"] == 0.0625
    assert checkpoint["extra"]["train_config"]["seed"] == 3 and checkpoint["extra"]["train_images"] == 40
    assert "final test accuracy" in capsys.readouterr().out


def test_resume_and_the_run_folder_guard(image_folder, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        main(tiny_train_args(image_folder, out, "--resume"))
    assert exit_.value.code == 2 and "--resume: no checkpoint at" in capsys.readouterr().err

    assert main(tiny_train_args(image_folder, out)) == 0
    with pytest.raises(SystemExit):
        main(tiny_train_args(image_folder, out))  # would overwrite the run
    assert "already holds a run: add --resume" in capsys.readouterr().err
    assert main(tiny_train_args(image_folder, out, "--resume")) == 0  # already complete: nothing more to do
    assert len(json.loads((out / "history.json").read_text())) == 2
    assert "is complete (2 of 2 epochs): nothing to do" in capsys.readouterr().out  # and says it wrote nothing
    with pytest.raises(SystemExit):
        main(tiny_train_args(image_folder, out, "--resume", "--lr", "0.5"))
    assert "--lr 0.5 (the run has 0.2)" in capsys.readouterr().err


def test_resume_needs_only_the_folder_and_continues_exactly(image_folder, tmp_path, monkeypatch, capsys):
    """Interrupted by Ctrl-C after epoch 1: one line says how to go on; `--out X --resume` alone finishes the
    run with the history of an uninterrupted one."""
    from vggattn import __main__ as cli
    from vggattn.train import fit as real_fit

    full = tmp_path / "full"
    assert main(tiny_train_args(image_folder, full, "--attention", "se")) == 0

    def interrupted_fit(*args, **kwargs):
        real_fit(*args, **kwargs, stop_after=1)
        raise KeyboardInterrupt

    out = tmp_path / "cut"
    monkeypatch.setattr(cli, "fit", interrupted_fit)
    assert main(tiny_train_args(image_folder, out, "--attention", "se")) == 130
    err = capsys.readouterr().err
    assert "interrupted after 1 finished epoch(s); continue with: python -m vggattn train --out cut --resume" in err
    assert "Traceback" not in err
    monkeypatch.setattr(cli, "fit", real_fit)
    assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert "resuming the run in cut after epoch 1 of 2" in capsys.readouterr().out
    resumed, uninterrupted = (json.loads((folder / "history.json").read_text()) for folder in (out, full))
    assert [row["train_loss"] for row in resumed] == [row["train_loss"] for row in uninterrupted]


def test_ctrl_c_before_the_first_epoch_says_nothing_was_saved(image_folder, tmp_path, monkeypatch, capsys):
    from vggattn import __main__ as cli
    from vggattn.train import fit as real_fit

    def interrupted_at_once(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "fit", interrupted_at_once)
    assert main(tiny_train_args(image_folder, tmp_path / "early")) == 130
    assert "interrupted before the first epoch ended: nothing was saved" in capsys.readouterr().err
    monkeypatch.setattr(cli, "fit", real_fit)
    assert main(tiny_train_args(image_folder, tmp_path / "early")) == 0  # the same command starts afresh


def test_unusable_out_and_checkpoints_fail_before_any_work(image_folder, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        main(tiny_train_args(image_folder, a_file))
    assert exit_.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err
    for name, content in (("empty.pt", b""), ("cut.pt", b"PK\x03\x04 truncated"), ("junk.pt", bytes([253]) * 64)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(SystemExit):
            main(["train", "--attention", "se", "--finetune-from", str(tmp_path / name), "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert name in err and ("is empty (0 bytes)" in err or "is not a readable checkpoint" in err), err
        assert "Traceback" not in err and not (tmp_path / "x").exists()


def test_test_subset_and_evaluation_every_epoch_for_a_chosen_length(image_folder, tmp_path):
    out = tmp_path / "short"
    assert main(tiny_train_args(image_folder, out, "--test-subset-per-class", "1", "--threads", "1")) == 0
    history = json.loads((out / "history.json").read_text())
    assert all(row["test_acc"] is not None for row in history)  # --epochs given: every epoch is scored
    run = json.loads((out / "run.json").read_text())
    assert run["test_subset_per_class"] == 1 and run["recipe"]["eval_every"] == 1


def test_finetune_from_a_plain_checkpoint(image_folder, tmp_path, capsys):
    plain = tmp_path / "plain"
    assert main(tiny_train_args(image_folder, plain)) == 0
    out = tmp_path / "se"
    args = [
        "train",
        "--attention",
        "se",
        "--finetune-from",
        str(plain / "last.pt"),
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--data-root",
        str(image_folder),
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    config = load_checkpoint(out / "last.pt")["model_config"]
    assert (config["depth"], config["width"], config["attention"]) == (11, 0.0625, "se")
    assert "loaded" in capsys.readouterr().out  # the LoadReport

    with pytest.raises(SystemExit):
        main([*args, "--width", "0.5"])
    assert "--width: with --finetune-from the architecture comes from the checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--finetune-from", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x")])
    assert "no checkpoint at" in capsys.readouterr().err


def test_bad_values_are_usage_errors_not_tracebacks(image_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(tiny_train_args(image_folder, tmp_path / "a", "--epochs", "0"))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "epochs must be >= 1, got 0" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["train", "--attention", "transformer"])
    assert "invalid choice: 'transformer'" in capsys.readouterr().err
