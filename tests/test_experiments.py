"""The experiment store's machinery on tiny specs: run, store, load, stale detection, resume, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from helpers import TINY_VGG

from vggattn import finetune
from vggattn.__main__ import main
from vggattn.experiments import registry, runner, store
from vggattn.experiments.spec import DataSelection, ExperimentSpec
from vggattn.finetune import BASELINE_RECIPE, FINETUNE_RECIPE
from vggattn.models import build_vgg
from vggattn.train import fit

TINY_MODEL = TINY_VGG
TINY_SPECS = (
    ExperimentSpec(
        name="tiny-base",
        kind="train",
        description="tiny plain model",
        model=TINY_MODEL,
        recipe=BASELINE_RECIPE.replace(epochs=2, batch_size=50, eval_every=1),
        saved_seed=0,
    ),
    ExperimentSpec(
        name="tiny-se",
        kind="finetune",
        description="SE into tiny-base",
        start_from="tiny-base",
        attention="se",
        recipe=FINETUNE_RECIPE.replace(epochs=1, batch_size=50),
        seeds=(0, 1),
        data=DataSelection(train_per_class=10, test_per_class=5),
        saved_seed=1,
    ),
    ExperimentSpec(
        name="tiny-scratch",
        kind="scratch",
        description="SE vs plain from scratch",
        model=TINY_MODEL,
        attention="spatial",
        recipe=BASELINE_RECIPE.replace(epochs=1, batch_size=50, eval_every=1),
    ),
)

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


@pytest.fixture
def tiny_store(tmp_path, monkeypatch, tiny_cifar):
    """The registry replaced by TINY_SPECS, the store and runs/ in tmp_path, the data by `tiny_cifar`."""
    monkeypatch.chdir(tmp_path)  # no pyproject above: the project root (experiments/, runs/) is tmp_path
    monkeypatch.delenv("VGGATTN_EXPERIMENTS", raising=False)
    monkeypatch.setattr(registry, "SPECS", TINY_SPECS)
    monkeypatch.setattr(registry, "_BY_NAME", {spec.name: spec for spec in TINY_SPECS})
    monkeypatch.setattr("vggattn.experiments.cli.SPECS", TINY_SPECS)
    monkeypatch.setattr(runner, "load_cifar10_splits", lambda: (tiny_cifar, tiny_cifar))
    return tmp_path / "experiments"


def test_a_finetune_runs_its_start_model_first_then_both_arms(tiny_store, capsys):
    result = runner.run_experiment("tiny-se", progress=True)
    out = capsys.readouterr().out
    assert "tiny-se starts from tiny-base, which is not fresh: running it first" in out
    assert (tiny_store / "tiny-base" / "model.pt").is_file() and (tiny_store / "tiny-se" / "result.json").is_file()
    assert [(run.arm, run.seed) for run in result.runs] == [
        ("attention", 0),
        ("plain", 0),
        ("attention", 1),
        ("plain", 1),
    ]
    comparison = result.comparison()
    assert len(comparison.arm("attention")) == 2 and comparison.baseline_acc == result.start_acc
    assert result.record["added_parameters"] > 0
    model = result.model()
    assert model.config["attention"] == "se" and not model.training
    for spec in TINY_SPECS[:2]:
        assert store.status(spec)[0] == "fresh"


def test_provenance_names_code_machine_data_and_time(tiny_store):
    result = runner.run_experiment("tiny-base", progress=False)
    p = json.loads((tiny_store / "tiny-base" / "result.json").read_text())["provenance"]
    for key in (
        "spec_hash",
        "package_version",
        "git_commit",
        "torch_version",
        "cpu_model",
        "cpu_flags",
        "threads",
        "device",
        "precision",
        "wall_seconds",
        "date",
        "command",
    ):
        assert key in p, key
    assert p["data_source"]["train_images"] == 200 and len(p["data_source"]["fingerprint"]) == 16
    assert p["command"] == "python -m vggattn experiments run tiny-base"
    assert (
        "computed on" in result.describe() and "by `python -m vggattn experiments run tiny-base`" in result.describe()
    )


def test_load_or_run_loads_a_fresh_result_and_says_where_it_came_from(tiny_store, capsys, tiny_cifar):
    runner.run_experiment("tiny-base", progress=False)
    capsys.readouterr()
    loaded = runner.load_or_run("tiny-base", data=(tiny_cifar, tiny_cifar))
    out = capsys.readouterr().out
    assert "tiny-base: loaded from experiments/tiny-base/" in out and "note:" not in out
    other = tiny_cifar.subset_per_class(10)  # other data: loaded all the same, with a note and the command
    runner.load_or_run("tiny-base", data=(other, other))
    assert "differ from the data of this result; `python -m vggattn experiments run tiny-base --force`" in (
        capsys.readouterr().out
    )
    assert loaded.final_acc == loaded.runs[0].history.final.test_acc


def test_a_changed_spec_is_stale_and_so_is_everything_built_on_it(tiny_store, monkeypatch):
    runner.run_experiment("tiny-se", progress=False)
    changed = TINY_SPECS[0].__class__(**{**TINY_SPECS[0].__dict__, "recipe": TINY_SPECS[0].recipe.replace(lr=0.1)})
    monkeypatch.setitem(registry._BY_NAME, "tiny-base", changed)
    state, reason = store.status(changed)
    assert state == "stale" and "recipe.lr: 0.2 -> 0.1" in reason
    state, reason = store.status(TINY_SPECS[1])  # its start model's spec changed
    assert state == "stale" and "the spec it starts from, tiny-base, changed" in reason


def test_load_or_run_runs_a_missing_result(tiny_store, capsys):
    result = runner.load_or_run("tiny-base", progress=False)
    out = capsys.readouterr().out
    assert "tiny-base has no stored result" in out and "Running it now" in out and "training images" in out
    assert store.status(TINY_SPECS[0])[0] == "fresh" and len(result.runs) == 1


def test_an_interrupted_run_continues_where_it_stopped(tiny_store, monkeypatch):
    """Ctrl-C after the first epoch, then the same command: the same history as an uninterrupted run."""
    uninterrupted = runner.run_experiment("tiny-base", progress=False).runs[0].history
    (tiny_store / "tiny-base" / "result.json").unlink()
    for folder in (tiny_store.parent / "runs").rglob("last.pt"):
        folder.unlink()

    def interrupted_fit(*args, **kwargs):
        fit(*args, **kwargs, stop_after=1)
        raise KeyboardInterrupt

    monkeypatch.setattr(finetune, "fit", interrupted_fit)  # the runner trains through finetune.scratch_run
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment("tiny-base", progress=False)
    assert store.status(TINY_SPECS[0])[0] == "missing"
    monkeypatch.setattr(finetune, "fit", fit)
    resumed = runner.run_experiment("tiny-base", progress=False).runs[0].history
    assert [r.train_loss for r in resumed] == [r.train_loss for r in uninterrupted]
    assert resumed.final.test_acc == uninterrupted.final.test_acc


def test_a_scratch_comparison_trains_both_arms_from_scratch(tiny_store):
    (tiny_store / "tiny-scratch").mkdir(parents=True)
    (tiny_store / "tiny-scratch" / store.MODEL_FILE).write_bytes(b"an older result's model")  # now saved_seed=None
    result = runner.run_experiment("tiny-scratch", progress=False)
    assert [run.arm for run in result.runs] == ["attention", "plain"] and result.start_acc is None
    assert result.record["added_parameters"] == 5 * 98 and result.record["model_file"] is None
    assert not (tiny_store / "tiny-scratch" / store.MODEL_FILE).exists()
    with pytest.raises(ValueError, match="stores no model"):
        result.model()


def test_cli_list_status_and_run(tiny_store, capsys):
    assert main(["experiments", "list"]) == 0
    assert "tiny-se" in capsys.readouterr().out
    assert main(["experiments", "run", "tiny-base", "--no-progress"]) == 0
    assert main(["experiments", "status"]) == 0
    out = capsys.readouterr().out
    assert "tiny-base" in out and "fresh" in out and "missing" in out
    assert "refresh: python -m vggattn experiments run tiny-se --force" in out
    assert main(["experiments", "run", "tiny-base"]) == 0  # fresh: nothing to do
    assert "nothing to do (add --force" in capsys.readouterr().out


def test_cli_names_are_checked_before_anything_trains(tiny_store, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["experiments", "run", "tiny-base", "nope"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no experiment called 'nope'; the experiments are: tiny-base, tiny-se, tiny-scratch" in err
    assert not (tiny_store / "tiny-base").exists()
    with pytest.raises(SystemExit):
        main(["experiments", "run"])
    assert "name one or more experiments, or give --all" in capsys.readouterr().err


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="a finetune needs start_from"):
        ExperimentSpec(name="x", kind="finetune", description="", recipe=FINETUNE_RECIPE, attention="se")
    with pytest.raises(ValueError, match="kind must be one of"):
        ExperimentSpec(name="x", kind="guess", description="", recipe=FINETUNE_RECIPE, model=TINY_MODEL)
    with pytest.raises(TypeError, match="recipe must be a TrainConfig"):
        ExperimentSpec(name="x", kind="train", description="", recipe={"epochs": 1}, model=TINY_MODEL)
    with pytest.raises(ValueError, match="saved_seed 5 is not one of the seeds"):
        ExperimentSpec(name="x", kind="train", description="", recipe=FINETUNE_RECIPE, model=TINY_MODEL, saved_seed=5)


def test_attention_arms_share_one_control_experiment(tiny_store, monkeypatch):
    """scratch-* style: a plain "train" experiment with seeds, and an attention-only experiment naming it as
    `control`; the dynamic arm anneals its temperature per step to 1 by the end."""
    recipe = BASELINE_RECIPE.replace(epochs=1, batch_size=50, eval_every=1)
    plain = ExperimentSpec(
        name="tiny-plain", kind="train", description="", model=TINY_MODEL, recipe=recipe, seeds=(0, 1)
    )
    dynamic = ExperimentSpec(
        name="tiny-dynamic",
        kind="scratch",
        description="",
        model=TINY_MODEL,
        recipe=recipe,
        attention="dynamic",
        arms=("attention",),
        seeds=(0, 1),
        saved_seed=0,
        control="tiny-plain",
    )
    for spec in (plain, dynamic):
        monkeypatch.setitem(registry._BY_NAME, spec.name, spec)
    runner.run_experiment("tiny-plain", progress=False)
    result = runner.run_experiment("tiny-dynamic", progress=False)
    comparison = result.comparison()
    assert [(run.arm, run.seed) for run in comparison.runs] == [
        ("attention", 0),
        ("attention", 1),
        ("plain", 0),
        ("plain", 1),
    ]
    assert comparison.paired().seeds == (0, 1)
    table = comparison.table()  # runs from scratch have no start accuracy and no baseline line
    assert "baseline before" not in table and comparison.verdict() in table
    temperatures = {m.temperature for m in result.model().modules() if hasattr(m, "temperature")}
    assert temperatures == {1.0}  # annealed (the module starts at 30)
    assert "control" in result.record["spec"] and result.record["spec"]["attention_version"] == 2
    with pytest.raises(ValueError, match="another recipe"):
        result.comparison(runner.run_experiment("tiny-base", progress=False))


def test_a_model_stored_in_float16_loads_as_float32_and_predicts_alike(tiny_store, monkeypatch):
    spec = ExperimentSpec(
        name="tiny-half",
        kind="train",
        description="",
        model=TINY_MODEL,
        recipe=BASELINE_RECIPE.replace(epochs=1, batch_size=50, eval_every=1),
        saved_seed=0,
        saved_dtype="float16",
    )
    monkeypatch.setitem(registry._BY_NAME, spec.name, spec)
    result = runner.run_experiment("tiny-half", progress=False)
    assert result.record["model_dtype"] == "float16" and result.record["spec"]["saved_dtype"] == "float16"
    stored = torch.load(tiny_store / "tiny-half" / store.MODEL_FILE, weights_only=True)["model_state"]
    assert {t.dtype for t in stored.values() if t.is_floating_point()} == {torch.float16}
    model = result.model()
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    images = torch.randn(4, 3, 32, 32)
    half_rounded = build_vgg(**TINY_MODEL)
    half_rounded.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored.items()})
    torch.testing.assert_close(model(images), half_rounded.eval()(images))
    assert "saved_dtype" not in TINY_SPECS[0].as_dict(), "float32, the default, leaves older hashes unchanged"
    with pytest.raises(ValueError, match="saved_dtype must be one of"):
        replace(spec, saved_dtype="int8")


def test_a_change_of_recipe_or_head_is_paired_with_the_same_attention_without_it(tiny_store, monkeypatch):
    """advice-* style: an attention-only fine-tune with dropout in the head (model=) and label smoothing,
    against the control experiment's attention runs (control_arm="attention"): same seeds, data, insertion."""
    control = replace(registry.get_spec("tiny-se"), name="tiny-se-control", arms=("attention",), saved_seed=None)
    advice = replace(
        control,
        name="tiny-se-advice",
        recipe=control.recipe.replace(label_smoothing=0.1),
        model={"dropout": 0.5},
        control="tiny-se-control",
        control_arm="attention",
    )
    for spec in (control, advice):
        monkeypatch.setitem(registry._BY_NAME, spec.name, spec)
    control_result = runner.run_experiment("tiny-se-control", progress=False)
    result = runner.run_experiment("tiny-se-advice", progress=False)
    comparison = result.comparison()
    assert [(run.arm, run.seed) for run in comparison.runs] == [
        ("attention", 0),
        ("attention", 1),
        ("plain", 0),
        ("plain", 1),
    ]
    # the control runs are the control experiment's attention runs, not a plain network
    assert [run.final_acc for run in comparison.arm("plain")] == [
        run.final_acc for run in control_result.arm("attention")
    ]
    assert comparison.attention == "tiny-se-advice" and "tiny-se-control" in comparison.table()
    assert result.record["spec"]["control_arm"] == "attention" and result.record["spec"]["model"] == {"dropout": 0.5}
    other_insertion = replace(control, name="tiny-se-careless", near_identity=False)
    monkeypatch.setitem(registry._BY_NAME, other_insertion.name, other_insertion)
    with pytest.raises(ValueError, match="another near_identity"):
        result.comparison(runner.run_experiment("tiny-se-careless", progress=False))


def test_a_finetune_may_change_only_the_head_dropout_and_trains_no_plain_arm_with_it():
    base = dict(name="x", kind="finetune", description="", recipe=FINETUNE_RECIPE, start_from="b", attention="se")
    with pytest.raises(ValueError, match="may set only"):
        ExperimentSpec(**base, model={"width": 0.5}, arms=("attention",))
    with pytest.raises(ValueError, match="changes the attention arm only"):
        ExperimentSpec(**base, model={"dropout": 0.5})
    with pytest.raises(ValueError, match="needs a control experiment"):
        ExperimentSpec(**base, arms=("attention",), control_arm="attention")
    with pytest.raises(ValueError, match="control_arm must be one of"):
        ExperimentSpec(**base, control="y", control_arm="head")
