"""The fine-tune protocol every attention notebook shares.

1. The baseline: a narrow VGG16-BN (`BASELINE`) trained once with `BASELINE_RECIPE`; the experiment store
   holds it (`vggattn.experiments.load_or_run("baseline").model()`).
2. `insert_attention(baseline, "se")`: the same network with attention added, the baseline's weights
   copied in (`load_backbone_weights`) and every gate started near identity (`gate = 0.99`), so the new
   model starts where the baseline ends.
3. `compare_finetune(baseline, "se", ...)`: for each seed, fine-tune the attention model and, as the fair
   control, a copy of the plain baseline, with the same data, recipe (`FINETUNE_RECIPE`), budget and seed
   (`finetune_run` is one arm for one seed; the experiment store runs the same).
   `Comparison.verdict()` says whether the paired difference's 95% interval excludes 0 (`vggattn.stats`).
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .attention import DynamicConv2d, temperature_schedule
from .attention.kinds import ATTENTION_KINDS
from .checkpoints import LAST_CHECKPOINT
from .checks import check_choice
from .data import CifarTensors
from .history import History
from .inspection import count_parameters
from .models import LoadReport, attention_modules, build_vgg, load_backbone_weights
from .runtime import model_device, pick_device, seed_everything
from .stats import PairedComparison, paired_comparison
from .train import TrainConfig, evaluate, fit

BASELINE = dict(depth=16, batch_norm=True, width=0.25, head="cifar", num_classes=10)
"""The baseline architecture: VGG16-BN at a quarter width (16 to 128 channels) with a one-Linear CIFAR head."""

BASELINE_RECIPE = TrainConfig(
    epochs=16,
    batch_size=256,
    lr=0.2,
    optimizer="sgd",
    momentum=0.9,
    nesterov=True,
    weight_decay=5e-4,
    schedule="onecycle",
    warmup=0.25,
    label_smoothing=0.2,
    tta_flip=True,
    channels_last=True,
    mixed_precision="auto",
    eval_every=16,
    seed=0,
)
"""How the baseline is trained, after fast CIFAR-10 training (airbench): Nesterov SGD
with a large peak lr (BN keeps it stable), a linear warm-up then linear decay per batch, label smoothing
0.2, flip test-time augmentation, NHWC memory format (about 1.3x faster convolutions on a CPU), bf16
autocast where the hardware computes bf16 natively (`mixed_precision="auto"`: AVX512-BF16 or AMX CPUs,
recent GPUs; float32 elsewhere) and one test evaluation, at the end. On the 20,000 offline training images,
16 epochs, seeds 0, 1, 2 (2-core CPU with AVX512-BF16): bf16 80.05%, 80.35%, 80.31% at about 2,300
images/s (about 2.3 minutes); float32 80.45%, 79.95%, 80.55% at about 1,500 images/s (about 3.6 minutes):
the same accuracy within the seed spread. Shorter runs fall short: 12 epochs reach 78.8-79.3% (lr
0.2-0.8), 10 epochs 77.1% (float32). The trained baseline is the experiment store's entry "baseline"."""

FINETUNE_RECIPE = BASELINE_RECIPE.replace(epochs=3, lr=0.02, mixed_precision=False, eval_every=1)
"""How both arms of `compare_finetune` are fine-tuned: the baseline recipe at a tenth of the lr, 3 epochs, in
float32 (bf16 rounds a near-identity gate of 0.99 to 0.98828 or 0.99219: too coarse for what is compared)."""

ARMS = ("attention", "plain")


# ---------------------------------------------------------------------------------------------- insertion


def insert_attention(
    baseline_model: nn.Module,
    attention: str,
    *,
    placement: str | None = None,
    near_identity: bool = True,
    **kwargs: Any,
) -> tuple[nn.Module, LoadReport]:
    """The baseline's architecture with `attention` added and the baseline's weights copied in.

    `build_vgg(**baseline.config, attention=..., placement=..., **kwargs)`, then `load_backbone_weights`.
    With `near_identity`, every new gate starts at `out = 0.99 * x` (`init_near_identity()`; for the
    gating kinds `bias=True` is the default here, as that needs a bias) and a seed dynamic conv's
    generated kernel at ~0; a `DynamicConv2d` already computes exactly the plain conv (its K kernels all
    take the plain kernel). So the new model starts close to the baseline.
    """
    config = getattr(baseline_model, "config", None)
    if not isinstance(config, dict):
        raise TypeError(
            f"baseline_model must be a model from build_vgg (with a .config), got {type(baseline_model).__name__}"
        )
    if config.get("attention") is not None:
        raise ValueError(f"baseline_model already has attention={config['attention']!r}: insert into a plain model")
    check_choice("attention", attention, ATTENTION_KINDS)
    if near_identity and "bias" in ATTENTION_KINDS[attention].options:
        kwargs.setdefault("bias", True)
    model = build_vgg(**{**config, "attention": attention, "placement": placement, **kwargs})
    report = load_backbone_weights(model, baseline_model.state_dict())
    if near_identity:
        for _, module in attention_modules(model):
            if hasattr(module, "init_near_identity"):
                module.init_near_identity()
    device = model_device(baseline_model)
    return model.to(device).train(baseline_model.training), report


ANNEAL_FRACTION = 0.1
"""The share of a run's steps over which `temperature_annealing` lowers the temperature from 30 to 1: Chen et
al. (2020) anneal over the first 10 epochs of their ImageNet schedule (100 epochs for most models)."""


def temperature_annealing(model: nn.Module, epochs: int) -> Callable[[float], None] | None:
    """An `on_step_start` for `fit` that anneals every `DynamicConv2d` temperature from 30 to 1, step by step.

    Before each step, T = `temperature_schedule(elapsed, ANNEAL_FRACTION * epochs)`, `elapsed` the epochs done
    (fractional: epoch - 1 + step / steps_per_epoch): linear from 30 at the first step to 1 after a tenth of
    the run, then 1. None when the model has no `DynamicConv2d`.
    """
    dynamic = [module for module in model.modules() if isinstance(module, DynamicConv2d)]
    if not dynamic:
        return None
    anneal_epochs = ANNEAL_FRACTION * epochs

    def set_temperature(elapsed_epochs: float) -> None:
        temperature = temperature_schedule(elapsed_epochs, anneal_epochs)
        for module in dynamic:
            module.set_temperature(temperature)

    return set_temperature


# --------------------------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class FinetuneRun:
    """One fine-tuning run of one arm ("attention" or "plain") with one seed; accuracies are fractions."""

    arm: str
    seed: int
    start_acc: float
    """Test accuracy before fine-tuning (for the attention arm: right after insertion)."""
    history: History

    @property
    def final_acc(self) -> float:
        return self.history.final.test_acc

    @property
    def seconds(self) -> float:
        return sum(record.seconds + record.eval_seconds for record in self.history)


@dataclass(frozen=True)
class ArmStats:
    """Final test accuracy of one arm over the seeds, in percentage points."""

    mean: float
    std: float
    low: float
    high: float

    @property
    def spread(self) -> float:
        """max - min over the seeds."""
        return self.high - self.low


@dataclass(frozen=True)
class Comparison:
    """The runs of `compare_finetune` and what they show.

    `paired()`: attention minus plain, seed by seed (the same seed trains both arms on the same data order),
    with a 95% Student-t interval (`vggattn.stats`). `verdict()` says "better" or "worse" only when the
    interval excludes 0, else "within noise" with the smallest difference the design could detect.
    """

    attention: str
    baseline_acc: float
    runs: tuple[FinetuneRun, ...]
    added_parameters: int
    control_label: str = "plain"
    """What the "plain" runs are: the plain network, or (a change of recipe measured against the same attention
    without it) the control experiment's attention runs."""

    def arm(self, arm: str) -> list[FinetuneRun]:
        check_choice("arm", arm, ARMS)
        return [run for run in self.runs if run.arm == arm]

    def stats(self, arm: str) -> ArmStats:
        points = [100 * run.final_acc for run in self.arm(arm)]
        if not points:
            raise ValueError(f"no {arm!r} runs in this comparison")
        std = statistics.stdev(points) if len(points) > 1 else 0.0
        return ArmStats(statistics.fmean(points), std, min(points), max(points))

    def paired(self) -> PairedComparison:
        """Final test accuracy (points) of the attention arm minus the plain arm's, seed by seed."""
        return paired_comparison(
            {run.seed: 100 * run.final_acc for run in self.arm("attention")},
            {run.seed: 100 * run.final_acc for run in self.arm("plain")},
            name=self.attention,
        )

    @property
    def difference(self) -> float:
        """The mean per-seed difference, attention minus plain, in points."""
        return self.paired().mean

    def verdict(self) -> str:
        """One line: the mean paired difference, its 95% interval, the sign agreement and the verdict."""
        return self.paired().summary()

    def table(self) -> str:
        """A text table: one row per arm (its accuracy at the start, for a fine-tune), then the verdict."""
        header = f"{'arm':<12}{'seeds':>6}{'start':>9}{'final mean':>12}{'std':>7}{'min-max':>15}{'seconds':>9}"
        rows = [header, "-" * len(header)]
        for arm in ARMS:
            runs, stats = self.arm(arm), self.stats(arm)
            starts = [run.start_acc for run in runs if run.start_acc is not None]  # None: trained from scratch
            start = f"{statistics.fmean(100 * acc for acc in starts):>8.2f}%" if starts else f"{'-':>9}"
            seconds = statistics.fmean(run.seconds for run in runs)
            name = self.attention if arm == "attention" else self.control_label
            rows.append(
                f"{name:<12}{len(runs):>6}{start}{stats.mean:>11.2f}%{stats.std:>7.2f}"
                f"{f'{stats.low:.2f}-{stats.high:.2f}':>15}{seconds:>9.0f}"
            )
        start_line = (
            "" if math.isnan(self.baseline_acc) else f"baseline before fine-tuning: {100 * self.baseline_acc:.2f}%; "
        )
        rows.append(f"{start_line}{self.attention} adds {self.added_parameters:,} parameters")
        rows.append(self.verdict())
        return "\n".join(rows)


def finetune_run(
    baseline_model: nn.Module,
    attention: str | None,
    seed: int,
    *,
    train_data: CifarTensors,
    test_data: CifarTensors,
    recipe: TrainConfig,
    placement: str | None = None,
    near_identity: bool = True,
    progress: bool = True,
    device: str | torch.device = "auto",
    out_dir: str | Path | None = None,
    **attention_kwargs: Any,
) -> tuple[FinetuneRun, nn.Module]:
    """One arm of the comparison for one seed: the fine-tuned run and its model.

    `attention=None` is the plain control (a copy of the baseline); otherwise `attention` is inserted with
    `insert_attention` (its new parameters drawn after `seed_everything(seed)`). With `out_dir` the run writes
    its checkpoint there and continues a run it finds there (`fit(resume=...)`).
    """
    device = pick_device(device)
    seed_everything(seed)  # the new modules' random init
    if attention is None:
        model = copy.deepcopy(baseline_model)
    else:
        model, _ = insert_attention(
            baseline_model, attention, placement=placement, near_identity=near_identity, **attention_kwargs
        )
    _, start_acc = evaluate(model, test_data, device=device, tta_flip=recipe.tta_flip)
    history = _fit_arm(model, train_data, test_data, recipe, seed, device, progress, out_dir)
    arm = "plain" if attention is None else "attention"
    return FinetuneRun(arm, seed, start_acc, history), model


def _fit_arm(
    model: nn.Module,
    train_data: CifarTensors,
    test_data: CifarTensors,
    recipe: TrainConfig,
    seed: int,
    device: str | torch.device,
    progress: bool,
    out_dir: str | Path | None,
) -> History:
    """`fit` one arm of one seed, as both protocols train it: the temperature of a `DynamicConv2d` annealed per
    step, and with `out_dir` a checkpoint per epoch there, continued from when one is found."""
    resume = out_dir if out_dir is not None and (Path(out_dir) / LAST_CHECKPOINT).is_file() else None
    return fit(
        model,
        train_data,
        test_data,
        recipe,
        seed=seed,
        device=device,
        progress=progress,
        out_dir=out_dir,
        resume=resume,
        on_step_start=temperature_annealing(model, recipe.epochs),
    )


def compare_finetune(
    baseline_model: nn.Module,
    attention: str,
    *,
    train_data: CifarTensors,
    test_data: CifarTensors,
    seeds: Iterable[int] = (0, 1, 2),
    epochs: int | None = None,
    lr: float | None = None,
    placement: str | None = None,
    near_identity: bool = True,
    recipe: TrainConfig | None = None,
    progress: bool = True,
    device: str | torch.device = "auto",
    **attention_kwargs: Any,
) -> Comparison:
    """Fine-tune `attention` inserted into the baseline against the plain baseline, seed by seed.

    Both arms get the same data, seeds and recipe: `recipe` (default `FINETUNE_RECIPE`), with `epochs` and
    `lr` when given. A model with `DynamicConv2d` anneals its temperature over the epochs
    (`temperature_annealing`). `attention_kwargs` go to `build_vgg` (e.g. `reduction=8`, `blocks=(4, 5)`).
    The experiment store runs the same protocol resumably (`python -m vggattn experiments run se-finetune`).

    `baseline_model` is any plain `build_vgg` model: the stored CIFAR-10 baseline, or, online, torchvision's
    ImageNet weights under a new CIFAR head: `build_vgg(16, True, head="cifar", weights="IMAGENET1K_V1")`.
    """
    settings = TrainConfig.from_options(
        recipe if recipe is not None else FINETUNE_RECIPE,
        **{key: value for key, value in (("epochs", epochs), ("lr", lr)) if value is not None},
    )
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. seeds=(0, 1, 2)")
    device = pick_device(device)
    _, baseline_acc = evaluate(baseline_model, test_data, device=device, tta_flip=settings.tta_flip)
    runs, added_parameters = [], 0
    for seed in seeds:
        for arm_attention in (attention, None):
            if progress:
                print(f"seed {seed}: {arm_attention or 'plain control'}", flush=True)
            run, model = finetune_run(
                baseline_model,
                arm_attention,
                seed,
                train_data=train_data,
                test_data=test_data,
                recipe=settings,
                placement=placement,
                near_identity=near_identity,
                progress=progress,
                device=device,
                **attention_kwargs,
            )
            if arm_attention is not None:
                added_parameters = count_parameters(model) - count_parameters(baseline_model)
            runs.append(run)
    return Comparison(attention, baseline_acc, tuple(runs), added_parameters)


def build_arm(
    model_config: dict[str, Any],
    attention: str | None,
    seed: int,
    placement: str | None = None,
    **attention_kwargs: Any,
) -> nn.Module:
    """The network of one arm, built from `seed_everything(seed)`: plain when `attention` is None."""
    seed_everything(seed)
    if attention is None:
        return build_vgg(**model_config)
    return build_vgg(**model_config, attention=attention, placement=placement, **attention_kwargs)


def scratch_run(
    model_config: dict[str, Any],
    attention: str | None,
    seed: int,
    *,
    train_data: CifarTensors,
    test_data: CifarTensors,
    recipe: TrainConfig,
    placement: str | None = None,
    progress: bool = True,
    device: str | torch.device = "auto",
    out_dir: str | Path | None = None,
    **attention_kwargs: Any,
) -> tuple[FinetuneRun, nn.Module]:
    """One arm of one seed trained from scratch (`attention` None: the plain network), the counterpart of
    `finetune_run`; a model with `DynamicConv2d` anneals its temperature per step. With `out_dir` it checkpoints
    every epoch there and continues from the last one (the experiment store's runs)."""
    model = build_arm(model_config, attention, seed, placement, **attention_kwargs)
    history = _fit_arm(model, train_data, test_data, recipe, seed, device, progress, out_dir)
    return FinetuneRun("plain" if attention is None else "attention", seed, None, history), model


def compare_scratch(
    attention: str,
    *,
    train_data: CifarTensors,
    test_data: CifarTensors,
    seeds: Iterable[int] = (0,),
    recipe: TrainConfig = BASELINE_RECIPE,
    model_config: dict[str, Any] | None = None,
    placement: str | None = None,
    progress: bool = True,
    device: str | torch.device = "auto",
    **attention_kwargs: Any,
) -> Comparison:
    """Train the network with `attention` and the plain one from scratch, seed by seed: a short live version of
    the store's scratch-* experiments (the same `scratch_run` as `python -m vggattn experiments run scratch-se`).

    Per seed both arms start from `seed_everything(seed)` and see the same data order. `model_config`: the
    `build_vgg` arguments (default `BASELINE`). A model with `DynamicConv2d` anneals its temperature per step.
    """
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. seeds=(0,)")
    config = dict(BASELINE if model_config is None else model_config)
    device = pick_device(device)
    runs, models = [], {}
    for seed in seeds:
        for arm in ARMS:
            if progress:
                print(f"seed {seed}: {attention if arm == 'attention' else 'plain control'}", flush=True)
            run, models[arm] = scratch_run(
                config,
                attention if arm == "attention" else None,
                seed,
                train_data=train_data,
                test_data=test_data,
                recipe=recipe,
                placement=placement,
                progress=progress,
                device=device,
                **attention_kwargs,
            )
            runs.append(run)
    added_parameters = count_parameters(models["attention"]) - count_parameters(models["plain"])
    return Comparison(attention, math.nan, tuple(runs), added_parameters)
