"""The training engine: history, determinism, groups and freezing, clipping, smoothing, checkpoints, resume, guards."""

from __future__ import annotations

import csv
import json
import math
from fractions import Fraction
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vggattn import __version__
from vggattn.checkpoints import (
    CheckpointError,
    capture_rng_states,
    load_checkpoint,
    model_from_checkpoint,
    restore_rng_states,
    save_checkpoint,
)
from vggattn.data import CIFAR10_CLASSES, CifarTensors
from vggattn.history import EpochRecord, History
from vggattn.models import build_vgg
from vggattn.parameters import freeze, model_parts, param_groups_by, set_trainable, trainable_parameter_names, unfreeze
from vggattn.runtime import autocast_dtype, native_bf16, pick_device, seed_everything
from vggattn.train import TrainConfig, TrainingDiverged, build_optimizer, evaluate, fit, predict

QUIET = dict(progress=False, device="cpu")

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


def tiny_vgg(seed: int = 0, **kwargs) -> nn.Module:
    """A VGG11-BN at width 1/16 (4 to 32 channels) with the CIFAR head: about 30k parameters."""
    torch.manual_seed(seed)
    return build_vgg(11, batch_norm=True, width=1 / 16, head="cifar", **kwargs)


def tiny_dropout_net(seed: int = 0) -> nn.Module:
    """A small net with dropout, so that a resumed run needs the restored torch RNG state."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(4),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(8 * 8 * 8, 10),
    )


def states_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[key], sb[key]) for key in sa)


def without_timing(history: History) -> list[dict]:
    timing = ("seconds", "eval_seconds", "images_per_s")
    return [{k: v for k, v in row.items() if k not in timing} for row in history.to_dicts()]


# ------------------------------------------------------------------------------------- history and files


def test_fit_returns_a_history_and_writes_its_files(tiny_cifar, tmp_path, capsys):
    history = fit(tiny_vgg(), tiny_cifar, tiny_cifar, epochs=2, lr=0.05, batch_size=50, out_dir=tmp_path, **QUIET)

    assert [record.epoch for record in history] == [1, 2]
    for record in history:
        assert 0 <= record.train_acc <= 1 and 0 <= record.test_acc <= 1
        assert record.train_loss > 0 and record.seconds > 0 and record.images_per_s > 0 and record.lr > 0
    assert history.final is history.records[-1]
    assert history.best.test_acc == max(history.column("test_acc"))
    assert History.from_json(tmp_path / "history.json").to_dicts() == history.to_dicts()
    with (tmp_path / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert list(rows[0]) == [name for name in EpochRecord.__dataclass_fields__]
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.csv", "history.json", "last.pt"]
    assert capsys.readouterr().out == ""  # progress=False is silent


def test_progress_prints_one_summary_line_per_epoch_and_no_warning(tiny_cifar, capsys):
    fit(tiny_vgg(), tiny_cifar, tiny_cifar, epochs=2, lr=0.05, batch_size=50, device="cpu", progress=True)

    captured = capsys.readouterr()
    summaries = [line for line in captured.out.splitlines() if line.startswith("epoch ")]
    assert len(summaries) == 2 and "img/s" in summaries[0] and "test loss" in summaries[1]
    assert "Warning" not in captured.err


def test_eval_every_skips_test_evaluation_but_always_evaluates_the_last_epoch(tiny_cifar):
    history = fit(tiny_vgg(), tiny_cifar, tiny_cifar, epochs=3, lr=0.05, batch_size=50, eval_every=2, **QUIET)

    assert [record.test_acc is None for record in history] == [True, False, False]
    assert history.best.epoch in (2, 3)
    assert "not evaluated" in history.records[0].summary(3)


def test_history_of_no_epoch_says_so():
    with pytest.raises(ValueError, match="empty"):
        History().final
    with pytest.raises(ValueError, match="unknown history column 'accuracy'"):
        History().column("accuracy")


# ------------------------------------------------------------------------------------------- determinism


def test_same_seed_same_history_and_weights(tiny_cifar):
    runs = []
    for _ in range(2):
        model = tiny_dropout_net(seed=0)
        runs.append((model, fit(model, tiny_cifar, tiny_cifar, epochs=2, lr=0.05, batch_size=50, seed=3, **QUIET)))
    other = tiny_dropout_net(seed=0)
    other_history = fit(other, tiny_cifar, tiny_cifar, epochs=2, lr=0.05, batch_size=50, seed=4, **QUIET)

    (model_a, history_a), (model_b, history_b) = runs
    assert without_timing(history_a) == without_timing(history_b)
    assert states_equal(model_a, model_b)
    assert not states_equal(model_a, other) and history_a.final.train_loss != other_history.final.train_loss


def test_seed_everything_and_rng_states_round_trip():
    import random

    import numpy as np

    seed_everything(5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(5)
    states = capture_rng_states()
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    restore_rng_states(states)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)


# --------------------------------------------------------------------------------- parts, groups, freezing


def test_model_parts_find_attention_by_type_and_the_classifier_as_head():
    model = tiny_vgg(attention="se")
    parts = {part: [name for name, _ in named] for part, named in model_parts(model).items()}

    assert parts["attention"] and all(".se" in name for name in parts["attention"])
    assert parts["head"] == ["classifier.0.weight", "classifier.0.bias"]
    assert all(name.startswith("features.") and ".se" not in name for name in parts["backbone"])
    assert sum(map(len, parts.values())) == len(list(model.parameters()))


def test_param_groups_have_the_learning_rates_asked():
    model = tiny_vgg(attention="se")
    groups = param_groups_by(model, {"backbone": 1e-5, "attention": 1e-4, "head": 1e-3})
    assert {group["name"]: group["lr"] for group in groups} == {"backbone": 1e-5, "attention": 1e-4, "head": 1e-3}

    config = TrainConfig(epochs=1, lr=0.1, param_groups=(("backbone", 1e-5),), weight_decay=5e-4)
    optimizer = build_optimizer(model, config)
    lrs = {group["name"]: (group["lr"], group["weight_decay"]) for group in optimizer.param_groups}
    assert lrs["backbone"] == (1e-5, 5e-4) and lrs["backbone/no_decay"] == (1e-5, 0.0)  # no decay on BN and bias
    assert lrs["attention"][0] == lrs["head"][0] == 0.1  # parts without an entry take lr
    assert sum(len(group["params"]) for group in optimizer.param_groups) == len(list(model.parameters()))

    with pytest.raises(ValueError, match="no learning rate for the part 'head'"):
        param_groups_by(model, {"backbone": 1e-5, "attention": 1e-4})
    with pytest.raises(ValueError, match="unknown parts \\['neck'\\]"):
        param_groups_by(model, {"neck": 1e-3})
    assert [group["name"] for group in param_groups_by(tiny_vgg(), {"backbone": 1, "attention": 2, "head": 3})] == [
        "backbone",
        "head",
    ]  # a plain model has no attention part


def test_fit_trains_each_group_at_its_own_rate(tiny_cifar):
    model = tiny_vgg()
    backbone_before = [p.detach().clone() for _, p in model_parts(model)["backbone"]]
    head_before = [p.detach().clone() for _, p in model_parts(model)["head"]]
    fit(
        model,
        tiny_cifar,
        tiny_cifar,
        epochs=1,
        lr=0.1,
        param_groups={"backbone": 1e-30},
        weight_decay=0.0,
        schedule="constant",
        batch_size=50,
        **QUIET,
    )

    def largest_change(before: list[torch.Tensor], part: str) -> float:
        return max((b - p).abs().max().item() for b, (_, p) in zip(before, model_parts(model)[part]))

    assert largest_change(backbone_before, "backbone") < 1e-20 < 1e-3 < largest_change(head_before, "head")


def test_freeze_unfreeze_and_set_trainable():
    model = tiny_vgg(attention="se")
    head = {name for name, _ in model_parts(model)["head"]}
    freeze(model, "backbone")
    assert not any(name.startswith("features.0.") for name in trainable_parameter_names(model))
    unfreeze(model)
    assert len(trainable_parameter_names(model)) == len(list(model.parameters()))
    set_trainable(model, "head")
    assert set(trainable_parameter_names(model)) == head
    set_trainable(model, ["head", "features.0"])
    assert set(trainable_parameter_names(model)) == head | {"features.0.weight", "features.0.bias"}
    with pytest.raises(ValueError, match="unknown part 'neck'"):
        freeze(model, "neck")


def test_a_block_part_is_every_layer_of_that_vgg_block_attention_included():
    model = tiny_vgg(attention="se")
    set_trainable(model, ["block5"])
    names = set(trainable_parameter_names(model))
    expected = {
        f"features.{layer}.{key}"
        for layer, block in model.layer_block.items()
        if block == 5
        for key, _ in model.features.get_submodule(layer).named_parameters()
    }
    assert names == expected and any(name.startswith("features.se5.") for name in names)
    set_trainable(model, ["block4", "block5", "head"])
    assert len(trainable_parameter_names(model)) > len(names)
    with pytest.raises(ValueError, match=r"'block6'.*'block1'"):
        freeze(model, "block6")


def test_fit_refuses_a_fully_frozen_model(tiny_cifar):
    model = tiny_vgg()
    freeze(model)
    with pytest.raises(ValueError, match="every parameter is frozen"):
        fit(model, tiny_cifar, tiny_cifar, epochs=1, lr=0.1, batch_size=50, **QUIET)


def test_a_frozen_backbone_stays_unchanged_batchnorm_statistics_included(tiny_cifar):
    model = tiny_vgg()
    freeze(model, "backbone")
    backbone = {key: value.clone() for key, value in model.state_dict().items() if key.startswith("features.")}
    head = model.classifier[0].weight.detach().clone()
    fit(model, tiny_cifar, tiny_cifar, epochs=1, lr=0.1, batch_size=50, **QUIET)

    assert all(torch.equal(model.state_dict()[key], value) for key, value in backbone.items())
    assert not torch.equal(model.classifier[0].weight, head)


def test_progressive_unfreezing_changes_the_trainable_set_per_stage(tiny_cifar):
    model = tiny_vgg(attention="se")
    parts = {part: {name for name, _ in named} for part, named in model_parts(model).items()}
    trainable_per_epoch = []

    def record_trainable(epoch: int) -> None:
        trainable_per_epoch.append(set(trainable_parameter_names(model)))

    stages = [(1, "head"), (1, ["head", "attention"]), (1, "all")]
    fit(
        model,
        tiny_cifar,
        tiny_cifar,
        epochs=3,
        lr=0.05,
        batch_size=100,
        stages=stages,
        on_epoch_start=record_trainable,
        **QUIET,
    )

    everything = parts["backbone"] | parts["attention"] | parts["head"]
    assert trainable_per_epoch == [parts["head"], parts["head"] | parts["attention"], everything]
    with pytest.raises(ValueError, match="stages last 2 epochs but epochs=3"):
        fit(model, tiny_cifar, tiny_cifar, epochs=3, lr=0.05, stages=[(1, "head"), (1, "all")], **QUIET)
    with pytest.raises(ValueError, match="unknown part 'heads'"):
        fit(model, tiny_cifar, tiny_cifar, epochs=1, lr=0.05, stages=[(1, "heads")], **QUIET)


# ---------------------------------------------------------------------------------- clipping and smoothing


def gradient_norm(model: nn.Module) -> float:
    norms = [p.grad.norm() for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)).item()


def test_grad_clip_bounds_the_gradient_norm(tiny_cifar):
    clipped, free = tiny_vgg(), tiny_vgg()
    fit(clipped, tiny_cifar, tiny_cifar, epochs=1, lr=0.05, batch_size=50, grad_clip=1e-3, **QUIET)
    fit(free, tiny_cifar, tiny_cifar, epochs=1, lr=0.05, batch_size=50, **QUIET)

    # after fit, .grad holds the last step's gradients, after clipping
    assert gradient_norm(clipped) <= 1e-3 * (1 + 1e-4)
    assert gradient_norm(free) > 1e-2


def constant_logits_model(logits: torch.Tensor) -> nn.Module:
    """Logits that do not depend on the image: a Linear with weight 0 and bias `logits`."""
    linear = nn.Linear(3 * 32 * 32, 10)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.copy_(logits)
    return nn.Sequential(nn.Flatten(), linear)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_train_loss_is_the_label_smoothed_cross_entropy(tiny_cifar, smoothing):
    logits = torch.linspace(-1.0, 2.0, 10)
    model = constant_logits_model(logits)
    # labels 0, 1, 2 only: with balanced labels the smoothed and the plain loss of constant logits coincide
    data = CifarTensors(tiny_cifar.images, torch.arange(200) % 3, CIFAR10_CLASSES, "three classes")
    # batches of 50 cover all 200 images; lr 1e-12 keeps the logits fixed over the epoch
    history = fit(
        model, data, data, epochs=1, lr=1e-12, batch_size=50, weight_decay=0.0, label_smoothing=smoothing, **QUIET
    )

    expected = F.cross_entropy(logits.expand(len(data), 10), data.labels, label_smoothing=smoothing)
    plain = F.cross_entropy(logits.expand(len(data), 10), data.labels)
    assert history.final.train_loss == pytest.approx(expected.item(), rel=1e-5)
    assert history.final.test_loss == pytest.approx(plain.item(), rel=1e-5)  # evaluation never smooths
    assert (history.final.train_loss != pytest.approx(plain.item(), rel=1e-3)) == (smoothing > 0)


# ------------------------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path):
    model = tiny_vgg(seed=1)
    optimizer = build_optimizer(model, TrainConfig(epochs=2, lr=0.1))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    history = History([EpochRecord(1, 2.0, 0.1, 2.1, 0.12, 1.0, 0.1, 100.0, 0.05)])
    path = save_checkpoint(
        tmp_path / "a.pt", model, optimizer, scheduler, epoch=1, history=history, extra={"note": "x"}
    )

    checkpoint = torch.load(path, weights_only=True)  # only tensors and plain containers inside
    assert checkpoint["package_version"] == __version__ and checkpoint["model_config"] == model.config
    other = tiny_vgg(seed=2)
    loaded = load_checkpoint(path, other)
    assert states_equal(model, other)
    assert loaded["epoch"] == 1 and History.from_dicts(loaded["history"]).to_dicts() == history.to_dicts()
    assert loaded["extra"] == {"note": "x"}
    assert loaded["optimizer_state"]["param_groups"][0]["lr"] == optimizer.param_groups[0]["lr"]
    rebuilt = model_from_checkpoint(path)
    assert rebuilt.config == model.config and states_equal(model, rebuilt)


def test_load_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"model_state": {}, "payload": Fraction(1, 2)}, path)  # a class torch.load must not unpickle
    with pytest.raises(CheckpointError, match="not a torch file .* code") as caught:
        load_checkpoint(path)
    assert "UnpicklingError: Weights only load failed" in str(caught.value)  # the unpickler refused: nothing ran


def test_load_checkpoint_says_what_is_wrong_with_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weight": torch.zeros(1)}, tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="not a vggattn checkpoint"):
        load_checkpoint(tmp_path / "bare.pt")
    save_checkpoint(tmp_path / "noconfig.pt", tiny_dropout_net())
    with pytest.raises(CheckpointError, match="has no model_config"):
        model_from_checkpoint(tmp_path / "noconfig.pt")


def test_save_is_atomic_a_crash_midway_leaves_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", tiny_vgg(seed=1), epoch=1)
    before = path.read_bytes()

    def crash_midway(obj, destination, *args, **kwargs):
        with open(destination, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, tiny_vgg(seed=2), epoch=2)
    monkeypatch.undo()

    assert path.read_bytes() == before and load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


def test_loading_into_another_architecture_names_the_keys(tmp_path):
    path = save_checkpoint(tmp_path / "plain.pt", tiny_vgg())
    with pytest.raises(CheckpointError, match=r"shape mismatches.*features\.0\.weight \(4, 3, 3, 3\) vs \(8, 3, 3"):
        load_checkpoint(path, build_vgg(11, batch_norm=True, width=1 / 8, head="cifar"))
    with pytest.raises(CheckpointError, match=r"missing keys \(\d+\): features\.se1\.fc1\.weight.*load_backbone"):
        load_checkpoint(path, tiny_vgg(attention="se"))
    with pytest.raises(CheckpointError, match=r"unexpected keys \(\d+\): features\.1\.weight"):
        load_checkpoint(path, build_vgg(11, width=1 / 16, head="cifar"))


# ------------------------------------------------------------------------------------------------ resume


class Interrupt(Exception):
    pass


def interrupt_after(epoch: int):
    def on_epoch_end(record: EpochRecord) -> None:
        if record.epoch == epoch:
            raise Interrupt

    return on_epoch_end


def test_a_resumed_run_ends_with_exactly_the_weights_of_an_uninterrupted_one(tiny_cifar, tmp_path):
    settings = dict(epochs=3, lr=0.05, batch_size=50, seed=1, **QUIET)
    straight = tiny_dropout_net()
    straight_history = fit(straight, tiny_cifar, tiny_cifar, **settings)

    with pytest.raises(Interrupt):  # e.g. a kernel interrupt after epoch 1
        fit(
            tiny_dropout_net(),
            tiny_cifar,
            tiny_cifar,
            out_dir=tmp_path / "a",
            on_epoch_end=interrupt_after(1),
            **settings,
        )
    resumed = tiny_dropout_net(seed=9)  # another init: everything must come from the checkpoint
    torch.manual_seed(123)  # and another RNG state
    resumed_history = fit(resumed, tiny_cifar, tiny_cifar, resume=tmp_path / "a", **settings)

    assert states_equal(straight, resumed)
    assert without_timing(resumed_history) == without_timing(straight_history)

    stopped = tiny_dropout_net()
    assert len(fit(stopped, tiny_cifar, tiny_cifar, out_dir=tmp_path / "b", stop_after=2, **settings)) == 2
    fit(stopped, tiny_cifar, tiny_cifar, resume=tmp_path / "b" / "last.pt", **settings)
    assert states_equal(straight, stopped)


def test_resume_refuses_another_recipe(tiny_cifar, tmp_path):
    fit(tiny_vgg(), tiny_cifar, tiny_cifar, epochs=2, lr=0.05, batch_size=50, out_dir=tmp_path, stop_after=1, **QUIET)
    with pytest.raises(CheckpointError, match="lr: checkpoint 0.05 vs now 0.1"):
        fit(tiny_vgg(), tiny_cifar, tiny_cifar, epochs=2, lr=0.1, batch_size=50, resume=tmp_path, **QUIET)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        fit(tiny_vgg(), tiny_cifar, tiny_cifar, epochs=2, lr=0.05, batch_size=50, resume=tmp_path / "nothing", **QUIET)


# ------------------------------------------------------------------------------------------------ guards


def test_a_nan_loss_stops_the_run_with_epoch_step_and_lr(tiny_cifar):
    model = tiny_vgg()
    with torch.no_grad():
        model.classifier[0].bias.fill_(math.nan)
    message = r"loss became nan at epoch 1, step 1 \(learning rate [0-9.e-]+\)"
    with pytest.raises(TrainingDiverged, match=message) as caught:
        fit(model, tiny_cifar, tiny_cifar, epochs=2, lr=0.05, batch_size=50, **QUIET)
    assert (caught.value.epoch, caught.value.step) == (1, 1)


def test_a_huge_lr_with_batchnorm_stops_although_the_training_loss_stays_finite(tiny_cifar):
    """BatchNorm keeps the training loss finite while the weights and running statistics overflow: the run
    must stop with the divergence message, not end with a NaN test loss and 10% accuracy."""
    with pytest.raises(TrainingDiverged, match=r"training diverged: .*(NaN or inf values|test loss became nan)"):
        fit(tiny_vgg(), tiny_cifar, tiny_cifar, epochs=2, lr=1e6, batch_size=50, **QUIET)


def test_non_finite_recipe_values_are_refused():
    for name in ("lr", "weight_decay", "label_smoothing", "warmup", "momentum", "grad_clip"):
        with pytest.raises(ValueError, match=name):
            TrainConfig(**{"epochs": 1, "lr": 0.1, name: math.nan})


def test_bad_data_and_settings_give_clear_errors(tiny_cifar):
    no_images = torch.zeros(0, 3, 32, 32, dtype=torch.uint8)
    empty = CifarTensors(no_images, torch.zeros(0, dtype=torch.int64), CIFAR10_CLASSES, "empty")
    model = tiny_vgg()
    with pytest.raises(ValueError, match="train_data is empty"):
        fit(model, empty, tiny_cifar, epochs=1, lr=0.1, **QUIET)
    with pytest.raises(ValueError, match="batch_size 256 is larger than the 200 images of train_data"):
        fit(model, tiny_cifar, tiny_cifar, epochs=1, lr=0.1, batch_size=256, **QUIET)
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        fit(model, tiny_cifar, tiny_cifar, epochs=0, lr=0.1, **QUIET)
    with pytest.raises(ValueError, match="schedule must be one of"):
        fit(model, tiny_cifar, tiny_cifar, epochs=1, lr=0.1, schedule="step", **QUIET)
    with pytest.raises(TypeError, match="train_data must be a CifarTensors"):
        fit(model, tiny_cifar.images, tiny_cifar, epochs=1, lr=0.1, **QUIET)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        fit(model, tiny_cifar, tiny_cifar, epochs=1, lr=-1.0, **QUIET)


# --------------------------------------------------------------------------------- devices and evaluation


def test_pick_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="'cuda' was asked for but is not available"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="not a torch device name"):
        pick_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")


def test_predict_and_evaluate(tiny_cifar):
    model = tiny_vgg().train()
    logits = predict(model, tiny_cifar, batch_size=64, device="cpu")
    loss, accuracy = evaluate(model, tiny_cifar, batch_size=64, device="cpu")

    assert logits.shape == (200, 10) and model.training  # the mode is restored
    assert accuracy == pytest.approx((logits.argmax(1) == tiny_cifar.labels).float().mean().item())
    assert loss == pytest.approx(F.cross_entropy(logits, tiny_cifar.labels).item(), rel=1e-5)
    mirrored = CifarTensors(tiny_cifar.images.flip(-1), tiny_cifar.labels, tiny_cifar.classes, "mirrored")
    # flip test-time augmentation averages an image and its mirror: the mirror gets the same logits
    tta_mirrored = predict(model, mirrored, tta_flip=True, device="cpu")
    assert torch.allclose(tta_mirrored, predict(model, tiny_cifar, tta_flip=True, device="cpu"), atol=1e-5)


def test_bf16_mixed_precision_and_channels_last_on_cpu(tiny_cifar):
    history = fit(
        tiny_vgg(),
        tiny_cifar,
        tiny_cifar,
        epochs=1,
        lr=0.05,
        batch_size=50,
        mixed_precision=True,
        channels_last=True,
        **QUIET,
    )
    assert math.isfinite(history.final.train_loss) and math.isfinite(history.final.test_loss)


def test_history_json_is_plain_json(tiny_cifar, tmp_path):
    fit(tiny_vgg(), tiny_cifar, tiny_cifar, epochs=1, lr=0.05, batch_size=50, out_dir=tmp_path, **QUIET)
    rows = json.loads((tmp_path / "history.json").read_text())
    assert set(rows[0]) == set(EpochRecord.__dataclass_fields__) and rows[0]["epoch"] == 1


def test_channels_last_training_works_with_dynamic_convolution():
    """channels_last converts only 4-D conv weights; DynamicConv2d's 5-D kernel bank must not break fit."""
    generator = torch.Generator().manual_seed(0)
    data = CifarTensors(
        images=torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=generator),
        labels=torch.arange(40) % 10,
        classes=CIFAR10_CLASSES,
        source="random",
    )
    model = build_vgg(depth=11, batch_norm=True, width=1 / 16, head="cifar", attention="dynamic")
    history = fit(model, data, data, epochs=1, lr=0.01, batch_size=20, channels_last=True, progress=False)
    assert len(history) == 1 and history.final.test_acc is not None


def test_epochs_to_reach_reads_the_evaluated_epochs():
    def record(epoch, test_acc):
        return EpochRecord(epoch, 1.0, 0.5, None if test_acc is None else 1.0, test_acc, 1.0, 0.1, 100.0, 0.1)

    history = History([record(1, 0.30), record(2, None), record(3, 0.52), record(4, 0.61)])
    assert history.epochs_to_reach(0.5) == 3  # epoch 2 was not evaluated
    assert history.epochs_to_reach(0.30) == 1  # reaching means >=
    assert history.epochs_to_reach(0.7) is None
    with pytest.raises(ValueError, match=r"test_acc must be .* <= 1, got 52; an accuracy is a fraction here, not %"):
        history.epochs_to_reach(52)
    with pytest.raises(ValueError, match="empty"):
        History().epochs_to_reach(0.5)


def test_predict_gives_each_module_back_its_own_mode(tiny_cifar, seed_and_one_thread):
    from vggattn.train import predict

    model = build_vgg(11, True, 0.125, head="cifar").train()
    frozen_norm = model.features[1]
    frozen_norm.eval()  # as fit keeps a frozen BatchNorm
    logits = predict(model, tiny_cifar.subset_per_class(2), device="cpu")
    assert logits.shape == (20, 10) and not logits.requires_grad
    assert model.training and model.features[0].training and not frozen_norm.training


# mixed_precision="auto": bf16 only where the hardware computes it natively


@pytest.mark.parametrize(
    ("cpuinfo", "expected"),
    [
        ("flags\t: fpu avx2 avx512f avx512_bf16", True),
        ("flags\t: fpu amx_bf16 amx_tile", True),
        ("flags\t: fpu avx2 fma", False),
        (OSError("no /proc here"), False),
    ],
)
def test_native_bf16_reads_the_cpu_flags(monkeypatch: pytest.MonkeyPatch, cpuinfo, expected: bool) -> None:
    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if isinstance(cpuinfo, Exception):
            raise cpuinfo
        return cpuinfo

    monkeypatch.setattr(Path, "read_text", read_text)
    assert native_bf16(torch.device("cpu")) is expected


def test_auto_mixed_precision_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr("vggattn.runtime.native_bf16", lambda device: True)
    assert autocast_dtype(cpu, "auto") == torch.bfloat16
    monkeypatch.setattr("vggattn.runtime.native_bf16", lambda device: False)
    assert autocast_dtype(cpu, "auto") is None  # float32: emulated bf16 would be slower
    assert autocast_dtype(cpu, True) == torch.bfloat16 and autocast_dtype(cpu, False) is None
    with pytest.raises(ValueError, match=r"mixed_precision must be one of \(False, True, 'auto'\), got 'yes'"):
        autocast_dtype(cpu, "yes")
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        TrainConfig(epochs=1, lr=0.1, mixed_precision="bf16")
