"""The training engine: the recipe (`TrainConfig`), optimiser and schedule, `fit`, `evaluate`, `predict`.

One training step, written out (the loss is cross-entropy with label smoothing `epsilon`):

    logits = model(x)                                       # (B, 3, 32, 32) -> (B, K)
    loss = (1 - epsilon) * CE(logits, y) + epsilon * mean_k(-log softmax(logits)_k)
    loss.backward(); clip ||g||_2 to grad_clip; optimizer.step(); scheduler.step()   # per batch

`fit` runs that over the deterministic batches of `vggattn.data.batches`, evaluates on the test data after
every epoch and returns a `History`. With `out_dir` it writes `history.json`, `history.csv` and `last.pt`
(a checkpoint that `fit(..., resume=...)` continues from, ending with exactly the weights of an
uninterrupted run).
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import LAST_CHECKPOINT, CheckpointError, load_checkpoint, restore_rng_states, save_checkpoint
from .checks import check_choice, check_int, check_positive
from .data import CifarTensors, batches
from .history import EpochRecord, History
from .parameters import _decay_groups, _fix_frozen_norm_statistics, _select_parameters, param_groups_by, set_trainable
from .runtime import MIXED_PRECISION, autocast_dtype, evaluating, pick_device, seed_everything

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: training stopped at `epoch`, `step` with learning rate `lr`."""

    def __init__(self, loss: float, epoch: int, step: int, lr: float, what: str | None = None) -> None:
        self.loss, self.epoch, self.step, self.lr = loss, epoch, step, lr
        what = what or f"the loss became {loss} at epoch {epoch}, step {step}"
        super().__init__(
            f"training diverged: {what} (learning rate {lr:.4g}). Lower the learning rate, set grad_clip "
            f"(e.g. 1.0), or turn mixed precision off."
        )


# ---------------------------------------------------------------------------------------------- training


def _option(default: Any, help: str, cli: bool = True) -> Any:
    """A recipe field with the help text that `python -m vggattn train` shows for it (`cli=False`: Python only)."""
    return field(default=default, metadata={"help": help, "cli": cli})


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe: everything that decides a run's trajectory (a resumed run must have the same one).

    The one definition of the recipe's options: `fit` takes a `TrainConfig` (or its fields as keywords), the
    experiment specs hold one, and the command line makes a flag of every field with `cli` in its metadata.
    `param_groups`: (part, lr) pairs for `param_groups_by`, parts without an entry use `lr`;
    `stages`: progressive unfreezing, ((epochs, parts), ...) with the epochs summing to `epochs`;
    `warmup`: the fraction of steps the one-cycle schedule spends rising to its peak `lr`.
    """

    epochs: int = _option(None, "number of epochs")
    lr: float = _option(None, "peak learning rate of the schedule")
    batch_size: int = _option(128, "images per training batch")
    optimizer: str = _option("sgd", "sgd (Nesterov momentum 0.9) or adamw")
    momentum: float = _option(0.9, "SGD momentum", cli=False)
    nesterov: bool = _option(True, "Nesterov momentum", cli=False)
    weight_decay: float = _option(5e-4, "weight decay (not applied to biases and BN)")
    schedule: str = _option("onecycle", "learning-rate schedule, stepped per batch")
    warmup: float = _option(0.25, "fraction of the steps the one-cycle schedule warms up", cli=False)
    label_smoothing: float = _option(0.0, "label smoothing epsilon in [0, 1)")
    grad_clip: float | None = _option(None, "clip the gradients' L2 norm to this value")
    mixed_precision: bool | str = _option(
        False,
        "bf16 autocast on CPU and recent GPUs, fp16 on older GPUs; auto = bf16 only where the hardware "
        "computes it natively",
    )
    tta_flip: bool = _option(False, "evaluate on each test image and its mirror")
    channels_last: bool = _option(False, "NHWC memory format (faster convolutions on most CPUs)", cli=False)
    eval_every: int = _option(1, "evaluate on the test data every N-th epoch and after the last")
    seed: int = _option(0, "seed of the model init, batch order and augmentation")
    param_groups: tuple[tuple[str, float], ...] = _option((), "learning rate per part", cli=False)
    stages: tuple[tuple[int, tuple[str, ...]], ...] = _option((), "progressive unfreezing", cli=False)

    def __post_init__(self) -> None:
        if self.epochs is None or self.lr is None:
            raise TypeError("a recipe needs epochs and lr, e.g. TrainConfig(epochs=3, lr=0.02)")
        # plain forms, so that equal recipes compare (and hash) equal however they were written
        object.__setattr__(
            self, "param_groups", tuple(sorted((str(part), float(lr)) for part, lr in dict(self.param_groups).items()))
        )
        object.__setattr__(
            self,
            "stages",
            tuple((epochs, (parts,) if isinstance(parts, str) else tuple(parts)) for epochs, parts in self.stages),
        )
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("eval_every", self.eval_every, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_positive("lr", self.lr)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}; airbench uses 0.2")
        if not 0.0 < self.warmup < 1.0:
            raise ValueError(f"warmup must be a fraction of the steps in (0, 1), got {self.warmup}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0) or not 0 <= self.momentum < 1:
            raise ValueError(
                f"need weight_decay >= 0 and 0 <= momentum < 1, got {self.weight_decay} and {self.momentum}"
            )
        if self.grad_clip is not None:
            check_positive("grad_clip", self.grad_clip)
        for stage_epochs, _ in self.stages:
            check_int("epochs of a stage", stage_epochs, minimum=1)
        if self.stages and sum(epochs for epochs, _ in self.stages) != self.epochs:
            raise ValueError(
                f"the stages last {sum(e for e, _ in self.stages)} epochs but epochs={self.epochs}: "
                f"make the stage epochs add up to epochs"
            )

    @classmethod
    def from_options(cls, base: TrainConfig | None = None, **options: Any) -> TrainConfig:
        """`base` with `options` changed (or a new recipe from `options`); an unknown option is a TypeError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown recipe option(s) {', '.join(unknown)}; the options are: {', '.join(sorted(known))}"
            )
        if base is not None and not isinstance(base, cls):
            raise TypeError(
                f"the recipe must be a TrainConfig, got {type(base).__name__}; "
                f"build one with TrainConfig(epochs=..., lr=...)"
            )
        return replace(base, **options) if base is not None else cls(**options)

    def replace(self, **options: Any) -> TrainConfig:
        """A copy with `options` changed, e.g. `FINETUNE_RECIPE.replace(epochs=2)`."""
        return TrainConfig.from_options(self, **options)

    def stage_parts(self, epoch: int) -> tuple[str, ...] | None:
        """The parts trained in `epoch` (1-based), or None without stages."""
        end = 0
        for stage_epochs, parts in self.stages:
            end += stage_epochs
            if epoch <= end:
                return parts
        return None

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))  # tuples -> lists: the plain form a checkpoint stores


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (Nesterov momentum) or AdamW over the parameter groups, no weight decay on biases and norm scales."""
    groups = _decay_groups(param_groups_by(model, dict(config.param_groups), default_lr=config.lr), config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov)
    return torch.optim.AdamW(groups, lr=config.lr)


def one_cycle_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """The one-cycle schedule as a factor of the peak lr, for step t = 0 .. T - 1 (W warm-up steps):

    factor(t) = (t + 1) / W            for t < W       (linear warm-up, the peak at t = W - 1)
    factor(t) = (T - t) / (T - W)      for t >= W      (linear decay, 1 / (T - W) at the last step)
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(total_steps - step, 0) / max(total_steps - warmup_steps, 1)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-batch schedule: one-cycle (`one_cycle_factor` times each group's lr), cosine (from each group's lr
    to 0) or constant."""
    total_steps = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        warmup_steps = max(1, round(config.warmup * total_steps))
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: one_cycle_factor(step, total_steps, warmup_steps)
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _progress_bar(iterable: Iterable, *, enabled: bool, **kwargs: Any) -> Any:
    """A `tqdm.auto` bar (a widget in notebooks, text elsewhere; its no-ipywidgets warning silenced)."""
    if not enabled:
        return iterable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm warns at import when ipywidgets is missing, then falls back to text
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)


def predict(
    model: nn.Module,
    data: CifarTensors,
    *,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    tta_flip: bool = False,
) -> torch.Tensor:
    """Logits `(N, K)` on the CPU, in the data's order (for confusion matrices).

    With `tta_flip` the logits are the mean over the image and its horizontal mirror:
    `logits = (model(x) + model(flip(x))) / 2`. Batches go in NHWC memory format (channels_last), and
    the default batch of 256 keeps a narrow VGG's activations under the 32 MiB that
    `vggattn.allocator.retain_freed_memory()` lets the process reuse (when the caller opted in): 2.5x faster
    than NCHW batches of 512 on the 2-core CPU (10,000 test images with flip TTA).
    """
    device = pick_device(device)
    _check_data("data", data)
    outputs = []
    with evaluating(model):
        for images, _ in batches(data, batch_size, train=False, drop_last=False, device=device):
            images = images.contiguous(memory_format=torch.channels_last)  # NHWC: faster convolutions on CPUs
            logits = model(images)  # (B, 3, 32, 32) -> (B, K)
            if tta_flip:
                logits = (logits + model(images.flip(-1))) / 2
            outputs.append(logits.float().cpu())
    return torch.cat(outputs)


def evaluate(
    model: nn.Module,
    data: CifarTensors,
    *,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    tta_flip: bool = False,
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy as a fraction) of `model` on `data`, no label smoothing."""
    logits = predict(model, data, batch_size=batch_size, device=device, tta_flip=tta_flip)
    loss = F.cross_entropy(logits, data.labels).item()
    accuracy = (logits.argmax(dim=1) == data.labels).float().mean().item()
    return loss, accuracy


def _check_data(name: str, data: Any, batch_size: int | None = None) -> None:
    if not isinstance(data, CifarTensors):
        raise TypeError(f"{name} must be a CifarTensors (from vggattn.data.load_cifar10), got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} is empty (0 images): load some data, or a larger subset_per_class")
    if batch_size is not None and batch_size > len(data):
        raise ValueError(
            f"batch_size {batch_size} is larger than the {len(data)} images of {name}: the last incomplete batch "
            f"is dropped, so no batch would be made. Use batch_size <= {len(data)} or more data"
        )


def fit(
    model: nn.Module,
    train_data: CifarTensors,
    test_data: CifarTensors,
    config: TrainConfig | None = None,
    *,
    device: str | torch.device = "auto",
    progress: bool = True,
    out_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    resume: str | os.PathLike | None = None,
    stop_after: int | None = None,
    on_epoch_start: Callable[[int], Any] | None = None,
    on_epoch_end: Callable[[EpochRecord], Any] | None = None,
    on_step_start: Callable[[float], Any] | None = None,
    **recipe: Any,
) -> History:
    """Train `model` in place with the recipe `config` and return its `History` (test metrics per evaluation).

    The recipe is a `TrainConfig`, its fields given as keywords change it (`fit(model, train, test,
    FINETUNE_RECIPE, epochs=2)`), or, without `config`, make it (`fit(model, train, test, epochs=3, lr=0.05)`).
    See `TrainConfig` for every option: SGD with Nesterov momentum or AdamW; `lr` is the peak of the per-batch
    schedule; weight decay on weights only; `label_smoothing`; `grad_clip`; `param_groups`; `stages`
    (progressive unfreezing: the parts trained in each stage, the rest frozen with their BatchNorm statistics
    fixed); `mixed_precision` (True: bf16 autocast on CPU and recent GPUs, fp16 with a GradScaler on older
    ones; "auto": bf16 only where the hardware has it, see `native_bf16`); `channels_last`; `tta_flip`;
    `eval_every` (the other records have test_loss and test_acc None). On a CPU under Linux, call
    `vggattn.allocator.retain_freed_memory()` once before training (the command line and the notebooks' setup
    do): about 1.35x faster steps, as the process stops page-faulting its activations.

    Run control: `fit` seeds everything with the recipe's `seed` first. With `out_dir`, `history.json`/`.csv`
    are written every epoch and `last.pt` every `checkpoint_every` epochs and at the end; `resume` (a
    checkpoint, or a folder holding `last.pt`) continues that run exactly. `stop_after` ends the run after
    that epoch as if interrupted (the schedule still spans `epochs`). Callbacks: `on_epoch_start(epoch)` and
    `on_epoch_end(record)`, epochs counted from 1, and `on_step_start(elapsed)` before each training step, with
    `elapsed` the epochs done so far (epoch - 1 + (step - 1) / steps_per_epoch; e.g. to anneal a temperature).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    config = TrainConfig.from_options(config, **recipe)
    epochs, batch_size, seed = config.epochs, config.batch_size, config.seed
    check_int("checkpoint_every", checkpoint_every, minimum=1)
    if stop_after is not None:
        check_int("stop_after", stop_after, minimum=1)
    _check_data("train_data", train_data, batch_size)
    _check_data("test_data", test_data)
    for _, parts in config.stages:
        _select_parameters(model, parts)  # unknown part names fail now, not in a later stage

    device = pick_device(device)
    autocast = autocast_dtype(device, config.mixed_precision)
    seed_everything(seed)
    model.to(device)
    if config.channels_last:  # NHWC conv weights: conv outputs follow their layout
        for module in model.modules():
            if isinstance(module, nn.Conv2d):  # only 4-D weights have an NHWC layout (DynamicConv2d's are 5-D)
                module.to(memory_format=torch.channels_last)
    optimizer_ = build_optimizer(model, config)
    steps_per_epoch = len(batches(train_data, batch_size, train=True, seed=seed, epoch=1, device=device))
    scheduler = build_scheduler(optimizer_, config, steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type) if autocast == torch.float16 else None
    run = {"train_config": config.as_dict(), "train_images": len(train_data)}

    history, start_epoch = History(), 1
    if resume is not None:
        checkpoint = _load_resume_checkpoint(resume, model, device, run)
        optimizer_.load_state_dict(checkpoint["optimizer_state"])
        scheduler.load_state_dict(checkpoint["scheduler_state"])
        if scaler is not None:
            scaler.load_state_dict(checkpoint["scaler_state"])
        history = History.from_dicts(checkpoint["history"])
        restore_rng_states(checkpoint["rng_states"])
        start_epoch = checkpoint["epoch"] + 1

    out_dir = Path(out_dir) if out_dir is not None else None
    for epoch in range(start_epoch, epochs + 1):
        stage_parts = config.stage_parts(epoch)
        if stage_parts is not None:
            set_trainable(model, stage_parts)
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        started = time.perf_counter()
        train_loss, train_acc, images, last_lr = _train_epoch(
            model, train_data, config, epoch, optimizer_, scheduler, scaler, autocast, device, progress, on_step_start
        )
        train_seconds = time.perf_counter() - started
        test_loss = test_acc = None
        if epoch % config.eval_every == 0 or epoch == epochs or epoch == stop_after:
            test_loss, test_acc = evaluate(model, test_data, device=device, tta_flip=config.tta_flip)
        _check_finite(model, test_loss, epoch, steps_per_epoch, last_lr)
        record = EpochRecord(
            epoch=epoch,
            train_loss=train_loss,
            train_acc=train_acc,
            test_loss=test_loss,
            test_acc=test_acc,
            seconds=train_seconds,
            eval_seconds=time.perf_counter() - started - train_seconds,
            images_per_s=images / train_seconds,
            lr=last_lr,
        )
        history.records.append(record)
        if progress:
            print(record.summary(epochs), flush=True)
        if out_dir is not None:
            history.to_json(out_dir / "history.json")
            history.to_csv(out_dir / "history.csv")
            if epoch % checkpoint_every == 0 or epoch == epochs or epoch == stop_after:
                save_checkpoint(
                    out_dir / LAST_CHECKPOINT,
                    model,
                    optimizer_,
                    scheduler,
                    epoch=epoch,
                    history=history,
                    scaler=scaler,
                    extra=run,
                )
        if on_epoch_end is not None:
            on_epoch_end(record)
        if epoch == stop_after:
            break
    return history


def _check_finite(model: nn.Module, test_loss: float | None, epoch: int, step: int, lr: float) -> None:
    """Stop a run whose weights or BatchNorm statistics overflowed: with BatchNorm the training loss can stay
    finite while the network is already broken (its test loss is NaN)."""
    if test_loss is not None and not math.isfinite(test_loss):
        raise TrainingDiverged(test_loss, epoch, step, lr, f"the test loss became {test_loss} after epoch {epoch}")
    for name, tensor in (*model.named_parameters(), *model.named_buffers()):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise TrainingDiverged(math.nan, epoch, step, lr, f"{name} holds NaN or inf values after epoch {epoch}")


def _load_resume_checkpoint(resume: str | os.PathLike, model: nn.Module, device: torch.device, run: dict) -> dict:
    """Load the checkpoint to resume from into `model`, checking it comes from the same recipe and data."""
    path = Path(resume)
    if path.is_dir():
        path = path / LAST_CHECKPOINT
    checkpoint = load_checkpoint(path, model, map_location=device)
    saved = checkpoint.get("extra", {})
    if "train_config" not in saved or checkpoint.get("optimizer_state") is None:
        raise CheckpointError(f"{path.name} was not written by fit, so it cannot be resumed; start a new run")
    differences = [
        f"{key}: checkpoint {saved['train_config'].get(key)!r} vs now {value!r}"
        for key, value in run["train_config"].items()
        if saved["train_config"].get(key) != value
    ]
    if saved.get("train_images") != run["train_images"]:
        differences.append(f"training images: checkpoint {saved.get('train_images')} vs now {run['train_images']}")
    if differences:
        raise CheckpointError(
            f"cannot resume from {path.name}: the run differs ({'; '.join(differences)}). Resume with the same "
            f"settings and data, or start a new run in another folder"
        )
    return checkpoint


def _train_epoch(
    model: nn.Module,
    train_data: CifarTensors,
    config: TrainConfig,
    epoch: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
    autocast: torch.dtype | None,
    device: torch.device,
    progress: bool,
    on_step_start: Callable[[float], Any] | None = None,
) -> tuple[float, float, int, float]:
    """One pass over the training batches: (mean loss, accuracy, images seen, lr of the last step)."""
    model.train()
    _fix_frozen_norm_statistics(model)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    if not trainable:
        raise ValueError(f"nothing to train in epoch {epoch}: every parameter is frozen; unfreeze(model, parts) first")
    loader = batches(train_data, config.batch_size, train=True, seed=config.seed, epoch=epoch, device=device)
    bar = _progress_bar(
        loader,
        enabled=progress,
        total=len(loader),
        desc=f"epoch {epoch}/{config.epochs}",
        leave=False,
        unit="batch",
        mininterval=0.5,
    )  # the bar updates at most twice a second
    loss_sum, correct, images = 0.0, torch.zeros((), dtype=torch.int64, device=device), 0
    started = time.perf_counter()
    for step, (x, y) in enumerate(bar, start=1):
        if on_step_start is not None:
            on_step_start(epoch - 1 + (step - 1) / len(loader))
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            logits = model(x)  # (B, 3, 32, 32) -> (B, K)
            loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise TrainingDiverged(loss_value, epoch, step, optimizer.param_groups[0]["lr"])
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        else:
            loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)  # ||g||_2 <= grad_clip
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        last_lr = optimizer.param_groups[0]["lr"]  # the lr this step used
        scheduler.step()
        loss_sum += loss_value * len(y)
        correct += (logits.argmax(dim=1) == y).sum()
        images += len(y)
        if progress and step % 10 == 0:
            bar.set_postfix(
                loss=f"{loss_sum / images:.3f}",
                acc=f"{correct.item() / images:.1%}",
                img_s=f"{images / (time.perf_counter() - started):,.0f}",
                refresh=False,
            )
    if progress:
        bar.close()
    return loss_sum / images, correct.item() / images, images, last_lr
