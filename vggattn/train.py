"""The training engine: `fit`, `evaluate`, `predict`, seeding, checkpoints, parameter groups and freezing.

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

import csv
import json
import math
import os
import random
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import __version__, paths
from .allocator import retain_freed_memory
from .checks import check_choice, check_int, check_positive
from .data import CifarTensors, batches
from .models import attention_modules, build_vgg

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")
PARTS = ("backbone", "attention", "head")
CHECKPOINT_FORMAT = 1
LAST_CHECKPOINT = "last.pt"
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: training stopped at `epoch`, `step` with learning rate `lr`."""

    def __init__(self, loss: float, epoch: int, step: int, lr: float, what: str | None = None) -> None:
        self.loss, self.epoch, self.step, self.lr = loss, epoch, step, lr
        what = what or f"the loss became {loss} at epoch {epoch}, step {step}"
        super().__init__(
            f"training diverged: {what} (learning rate {lr:.4g}). Lower the learning rate, set grad_clip "
            f"(e.g. 1.0), or turn mixed precision off."
        )


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked: not a vggattn checkpoint, another architecture, another run."""


# ----------------------------------------------------------------------------------------------- devices


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """`"auto"`: CUDA if available, then Apple MPS, then CPU; any other name is checked and returned."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a string like 'auto', 'cpu' or 'cuda', got {type(device).__name__}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r} is not a torch device name; use 'auto', 'cpu', 'cuda' or 'mps'") from error
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(chosen.type, True):
        raise ValueError(f"device {device!r} was asked for but is not available on this machine; use device='auto'")
    return chosen


# ------------------------------------------------------------------------------------------ determinism


def seed_everything(seed: int, *, deterministic: bool | None = None) -> None:
    """Seed Python's `random`, NumPy and torch (CPU and every GPU) with `seed`.

    What this makes reproducible: on CPU, the same seed, machine, torch version and thread count
    (`torch.get_num_threads()`) give bit-identical training, because PyTorch's CPU kernels are deterministic
    for a fixed thread count. What it does not: results differ across machines (another CPU instruction set
    rounds differently), torch versions and thread counts. On CUDA, cuDNN picks algorithms that may use
    atomics; `deterministic=True` calls `torch.use_deterministic_algorithms(True)` (an error for any op
    without a deterministic kernel) and turns cuDNN benchmarking off. `deterministic=None` leaves that
    global switch as it is.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic is not None:
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it to be deterministic
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.benchmark = not deterministic


def capture_rng_states() -> dict[str, Any]:
    """Every random generator's state as tensors and plain values (loadable with `weights_only=True`)."""
    _, python_keys, python_gauss = random.getstate()
    _, numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss = np.random.get_state()
    states: dict[str, Any] = {
        "python": torch.tensor(python_keys, dtype=torch.int64),
        "python_gauss": python_gauss,
        "numpy": torch.from_numpy(numpy_keys.astype(np.int64)),
        "numpy_extra": [int(numpy_pos), int(numpy_has_gauss), float(numpy_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        states["mps"] = torch.mps.get_rng_state()
    return states


def restore_rng_states(states: Mapping[str, Any]) -> None:
    """Put back the generator states that `capture_rng_states()` captured (from any device they were loaded to)."""
    random.setstate((3, tuple(int(key) for key in states["python"].tolist()), states["python_gauss"]))
    numpy_pos, numpy_has_gauss, numpy_gauss = states["numpy_extra"]
    numpy_keys = states["numpy"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss))
    torch.set_rng_state(states["torch"].cpu())  # generator states are CPU byte tensors, whatever map_location did
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in states["cuda"]])
    if "mps" in states and torch.backends.mps.is_available():
        torch.mps.set_rng_state(states["mps"].cpu())


# -------------------------------------------------------------------------------- parts, groups, freezing


def model_parts(model: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """The model's parameters split into `"backbone"`, `"attention"` and `"head"` (name, parameter) lists.

    attention: parameters inside a module that `attention_modules` finds (found by type);
    head: `model.classifier` if the model has one, else its last `nn.Linear`;
    backbone: every other parameter.
    """
    attention_prefixes = tuple(f"{name}." for name, _ in attention_modules(model))
    if isinstance(getattr(model, "classifier", None), nn.Module):
        head_prefix = "classifier."
    else:
        linear_names = [
            name for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and not f"{name}.".startswith(attention_prefixes)
        ]  # fmt: skip
        head_prefix = f"{linear_names[-1]}." if linear_names else None
    parts: dict[str, list[tuple[str, nn.Parameter]]] = {part: [] for part in PARTS}
    for name, parameter in model.named_parameters():
        if name.startswith(attention_prefixes):
            parts["attention"].append((name, parameter))
        elif head_prefix is not None and name.startswith(head_prefix):
            parts["head"].append((name, parameter))
        else:
            parts["backbone"].append((name, parameter))
    return parts


def _select_parameters(model: nn.Module, parts: str | Iterable[str]) -> list[nn.Parameter]:
    """Parameters of `parts`: `"all"`, a part of `PARTS`, or a submodule name such as `"features.4"`."""
    names = [parts] if isinstance(parts, str) else list(parts)
    by_part = model_parts(model)
    modules = dict(model.named_modules())
    selected: dict[int, nn.Parameter] = {}
    for name in names:
        if name == "all":
            chosen = list(model.parameters())
        elif name in by_part:
            chosen = [parameter for _, parameter in by_part[name]]
        elif name in modules and name != "":
            chosen = list(modules[name].parameters())
        else:
            raise ValueError(
                f"unknown part {name!r}: expected 'all', one of {PARTS} or a submodule name of the model "
                f"(e.g. {[n for n, _ in model.named_children()][:4]})"
            )
        selected.update((id(parameter), parameter) for parameter in chosen)
    return list(selected.values())


def freeze(model: nn.Module, parts: str | Iterable[str] = "all") -> None:
    """Stop gradients for `parts` (`requires_grad=False`); `fit` also keeps their BatchNorm statistics fixed."""
    for parameter in _select_parameters(model, parts):
        parameter.requires_grad_(False)


def unfreeze(model: nn.Module, parts: str | Iterable[str] = "all") -> None:
    """Train `parts` again (`requires_grad=True`)."""
    for parameter in _select_parameters(model, parts):
        parameter.requires_grad_(True)


def set_trainable(model: nn.Module, parts: str | Iterable[str]) -> None:
    """Train exactly `parts` and freeze everything else (one stage of progressive unfreezing)."""
    freeze(model, "all")
    unfreeze(model, parts)


def trainable_parameter_names(model: nn.Module) -> list[str]:
    """Names of the parameters that currently receive gradients."""
    return [name for name, parameter in model.named_parameters() if parameter.requires_grad]


def param_groups_by(model: nn.Module, lrs: Mapping[str, float], default_lr: float | None = None) -> list[dict]:
    """Optimizer parameter groups, one per part, with the learning rate `lrs[part]` (else `default_lr`).

    `lrs` maps `"backbone"`, `"attention"`, `"head"` to learning rates, e.g. the SE article's recipe
    `{"backbone": 1e-5, "attention": 1e-4, "head": 1e-4}`. A part the model does not have (attention in a
    plain VGG) is skipped; a part it has with no learning rate given is an error.
    """
    unknown = sorted(set(lrs) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown parts {unknown} in the learning rates; expected keys among {PARTS}")
    groups = []
    for part, named in model_parts(model).items():
        if not named:
            continue
        lr = lrs.get(part, default_lr)
        if lr is None:
            raise ValueError(
                f"no learning rate for the part {part!r} ({len(named)} parameter tensors): add {part!r} to "
                f"the learning rates or give a default lr"
            )
        check_positive(f"learning rate of {part!r}", lr)
        groups.append({"name": part, "params": [parameter for _, parameter in named], "lr": float(lr)})
    return groups


def _decay_groups(groups: list[dict], weight_decay: float) -> list[dict]:
    """Split each group in two: weights (ndim > 1) get `weight_decay`; biases and norm scales (ndim <= 1) none."""
    split = []
    for group in groups:
        weights = [parameter for parameter in group["params"] if parameter.ndim > 1]
        others = [parameter for parameter in group["params"] if parameter.ndim <= 1]
        if weights:
            split.append({**group, "params": weights, "weight_decay": weight_decay})
        if others:
            split.append({**group, "name": f"{group['name']}/no_decay", "params": others, "weight_decay": 0.0})
    return split


def _fix_frozen_norm_statistics(model: nn.Module) -> None:
    """Put BatchNorm layers whose affine parameters are all frozen in eval mode: frozen means frozen."""
    for module in model.modules():
        if isinstance(module, BATCH_NORMS) and module.affine:
            if not any(parameter.requires_grad for parameter in module.parameters()):
                module.eval()


# ----------------------------------------------------------------------------------------------- history


@dataclass
class EpochRecord:
    """One epoch: losses and accuracies (fractions in [0, 1]), timing and the learning rate.

    test_loss, test_acc: None for an epoch `fit` did not evaluate (see `eval_every`);
    seconds: training time of the epoch; eval_seconds: time of the test evaluation; images_per_s: training
    throughput; lr: learning rate of the first parameter group at the epoch's last step.
    """

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float | None
    test_acc: float | None
    seconds: float
    eval_seconds: float
    images_per_s: float
    lr: float

    def summary(self, epochs: int) -> str:
        """The one-line epoch summary `fit` prints."""
        test = "not evaluated" if self.test_acc is None else f"loss {self.test_loss:.3f} acc {self.test_acc:6.1%}"
        return (
            f"epoch {self.epoch}/{epochs}  train loss {self.train_loss:.3f} acc {self.train_acc:6.1%}  "
            f"test {test}  {self.seconds + self.eval_seconds:.1f} s  {self.images_per_s:,.0f} img/s  lr {self.lr:.3g}"
        )


@dataclass
class History:
    """Per-epoch records of one run, in order."""

    records: list[EpochRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[EpochRecord]:
        return iter(self.records)

    @property
    def final(self) -> EpochRecord:
        """The last epoch."""
        self._check_not_empty()
        return self.records[-1]

    @property
    def best(self) -> EpochRecord:
        """The evaluated epoch with the highest test accuracy (the first one on ties)."""
        self._check_not_empty()
        evaluated = [record for record in self.records if record.test_acc is not None]
        return max(evaluated, key=lambda record: record.test_acc)

    def epochs_to_reach(self, test_acc: float) -> int | None:
        """The first epoch whose test accuracy is >= `test_acc` (a fraction), or None if no evaluated epoch reaches it.

        The answer is only as fine as the evaluations: fit with `eval_every=1` to see every epoch.
        """
        self._check_not_empty()
        if isinstance(test_acc, bool) or not isinstance(test_acc, (int, float)) or not 0 <= test_acc <= 1:
            raise ValueError(f"test_acc must be an accuracy between 0 and 1 (a fraction, not %), got {test_acc!r}")
        return next((r.epoch for r in self.records if r.test_acc is not None and r.test_acc >= test_acc), None)

    def column(self, name: str) -> list[float]:
        """One field over the epochs, e.g. `history.column("test_acc")` for a plot."""
        if name not in _RECORD_FIELDS:
            raise ValueError(f"unknown history column {name!r}; expected one of {_RECORD_FIELDS}")
        return [getattr(record, name) for record in self.records]

    def to_dicts(self) -> list[dict]:
        return [asdict(record) for record in self.records]

    @classmethod
    def from_dicts(cls, rows: Iterable[Mapping[str, Any]]) -> History:
        return cls([EpochRecord(**row) for row in rows])

    def to_json(self, path: str | os.PathLike) -> Path:
        return _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(self.to_dicts(), indent=2), encoding="utf-8"))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> History:
        return cls.from_dicts(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_csv(self, path: str | os.PathLike) -> Path:
        def write(tmp: Path) -> None:
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=_RECORD_FIELDS)
                writer.writeheader()
                writer.writerows(self.to_dicts())

        return _atomic_write(path, write)

    def _check_not_empty(self) -> None:
        if not self.records:
            raise ValueError("the history is empty: no epoch has finished yet")


_RECORD_FIELDS = [f.name for f in fields(EpochRecord)]


# ------------------------------------------------------------------------------------------- checkpoints


def _atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it over `path` (never a partial file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    *,
    epoch: int = 0,
    history: History | None = None,
    rng_states: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | None = None,
    scaler: torch.amp.GradScaler | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write one checkpoint file atomically (a temporary file in the same folder, then `os.replace`).

    It holds only tensors and plain containers, so `load_checkpoint` reads it with `weights_only=True`:
    model/optimizer/scheduler/scaler states, `epoch`, `history` (list of dicts), RNG states (default: the
    current ones), `model_config` (default: `model.config`, what `build_vgg(**config)` rebuilds), the
    package and torch versions and `extra` (plain values: numbers, strings, lists, dicts).
    """
    config = model_config if model_config is not None else getattr(model, "config", None)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "package_version": __version__,
        "torch_version": str(torch.__version__),
        "model_state": model.state_dict(),
        "model_config": dict(config) if config else None,
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
        "scaler_state": scaler.state_dict() if scaler is not None else None,
        "epoch": int(epoch),
        "history": history.to_dicts() if history is not None else [],
        "rng_states": dict(rng_states) if rng_states is not None else capture_rng_states(),
        "extra": dict(extra or {}),
    }
    return _atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module | None = None, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint with `torch.load(weights_only=True)`; with `model`, load its weights into it.

    A model of another architecture raises `CheckpointError` naming the missing, unexpected and
    mismatching-shape keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {paths.display_path(path)}: train first, or give the path of an existing .pt file"
        )
    if path.stat().st_size == 0:
        raise CheckpointError(f"{_as_given(path)} is empty (0 bytes): the run that wrote it was interrupted, or the "
                              f"file was copied wrongly; use another checkpoint or train again")  # fmt: skip
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # any bytes torch cannot read: truncated, corrupt, not a checkpoint at all
        said = str(error).strip().split(". ")[0].splitlines()[0][:100] if str(error).strip() else ""
        raise CheckpointError(
            f"{_as_given(path)} is not a readable checkpoint: truncated, corrupt or not a torch file of tensors "
            f"(pickled Python code is never loaded) (torch.load: {type(error).__name__}{': ' + said if said else ''}"
            f"); use another checkpoint, copy it again, or train again"
        ) from None
    if not isinstance(checkpoint, dict) or "model_state" not in checkpoint:
        raise CheckpointError(
            f"{_as_given(path)} is not a vggattn checkpoint (no 'model_state'); write checkpoints with save_checkpoint"
        )
    if model is not None:
        config = checkpoint.get("model_config")
        load_model_state(model, checkpoint["model_state"], source=path.name, model_config=config)
    return checkpoint


def _as_given(path: Path) -> str:
    """A path as the user gave it when it is outside the project (a relative one stays relative)."""
    inside = paths.display_path(path)
    return str(path) if inside.startswith("<") else inside


def load_model_state(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    source: str = "the state dict",
    model_config: Mapping | None = None,
) -> None:
    """`model.load_state_dict(state)` that first names every missing, unexpected and wrong-shape key."""
    own = model.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    wrong_shape = [
        f"{key} {tuple(state[key].shape)} vs {tuple(own[key].shape)}"
        for key in own
        if key in state and state[key].shape != own[key].shape
    ]
    if missing or unexpected or wrong_shape:
        labelled = (("missing keys", missing), ("unexpected keys", unexpected),
                    ("shape mismatches, checkpoint vs model", wrong_shape))  # fmt: skip
        problems = [
            f"{label} ({len(keys)}): {', '.join(keys[:6])}{', ...' if len(keys) > 6 else ''}"
            for label, keys in labelled
            if keys
        ]
        saved_from = f" It was saved from build_vgg(**{dict(model_config)})." if model_config else ""
        raise CheckpointError(
            f"{source} does not fit this model: {'; '.join(problems)}.{saved_from} Rebuild the model with "
            f"model_from_checkpoint(path), or map a plain backbone into an attention model with load_backbone_weights."
        )
    model.load_state_dict(state)


def model_from_checkpoint(
    checkpoint: str | os.PathLike | Mapping[str, Any], *, map_location: str | torch.device = "cpu"
) -> nn.Module:
    """Rebuild the model with `build_vgg(**checkpoint["model_config"])` and load its weights.

    `checkpoint`: a path, or a dict that `load_checkpoint` returned.
    """
    if not isinstance(checkpoint, Mapping):
        checkpoint = load_checkpoint(checkpoint, map_location=map_location)
    config = checkpoint.get("model_config")
    if not config:
        raise CheckpointError(
            "the checkpoint has no model_config, so its architecture is unknown: build the model yourself "
            "and call load_checkpoint(path, model)"
        )
    try:
        model = build_vgg(**config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"this version's build_vgg cannot rebuild the checkpoint's model_config {config}: {error}"
        ) from error
    load_model_state(model, checkpoint["model_state"], source="the checkpoint", model_config=config)
    return model.to(map_location)


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
        False, "bf16 autocast on CPU and recent GPUs, fp16 on older GPUs; auto = bf16 only where the hardware "
        "computes it natively"
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
        object.__setattr__(self, "param_groups", tuple(sorted((str(part), float(lr))
                                                              for part, lr in dict(self.param_groups).items())))
        object.__setattr__(self, "stages", tuple(
            (epochs, (parts,) if isinstance(parts, str) else tuple(parts)) for epochs, parts in self.stages
        ))
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
            raise TypeError(f"unknown recipe option(s) {', '.join(unknown)}; the options are: {', '.join(sorted(known))}")
        if base is not None and not isinstance(base, cls):
            raise TypeError(f"the recipe must be a TrainConfig, got {type(base).__name__}; "
                            f"build one with TrainConfig(epochs=..., lr=...)")
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


MIXED_PRECISION = (False, True, "auto")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of x86 CPUs that compute bf16 natively


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 natively: a CUDA GPU that supports it, or a CPU whose flags (Linux's
    /proc/cpuinfo) list AVX512-BF16 or AMX-BF16. Elsewhere False: there bf16 would be emulated, slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux
        return False
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def autocast_dtype(device: torch.device, mixed_precision: bool | str) -> torch.dtype | None:
    """The autocast dtype `fit` trains with; None means float32.

    True: bf16 on CPU and on GPUs that support it, else fp16 on CUDA (with a GradScaler). "auto": bf16 where
    `native_bf16(device)`, else None. False: None.
    """
    check_choice("mixed_precision", mixed_precision, MIXED_PRECISION)
    if mixed_precision == "auto":
        return torch.bfloat16 if native_bf16(device) else None
    if not mixed_precision:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16
    raise ValueError(
        f"mixed precision is supported on 'cpu' (bf16) and 'cuda' here, not on {device.type!r}: "
        f"set mixed_precision=False"
    )


def _progress_bar(iterable: Iterable, *, enabled: bool, **kwargs: Any) -> Any:
    """A `tqdm.auto` bar (a widget in notebooks, text elsewhere; its no-ipywidgets warning silenced)."""
    if not enabled:
        return iterable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm warns at import when ipywidgets is missing, then falls back to text
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Run `model` in eval mode without autograd, then give each module back its own train/eval mode
    (a frozen BatchNorm that `fit` keeps in eval mode stays there)."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes.items():
            module.training = training


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
    the default batch of 256 keeps a narrow VGG's activations under the 32 MiB that `retain_freed_memory`
    reuses: 2.5x faster than NCHW batches of 512 on the 2-core CPU (10,000 test images with flip TTA).
    """
    device = pick_device(device)
    _check_data("data", data)
    if device.type == "cpu":
        retain_freed_memory()
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
    `eval_every` (the other records have test_loss and test_acc None). On a CPU under Linux, `fit` first calls
    `vggattn.allocator.retain_freed_memory()` (the process then keeps freed memory for reuse).

    Run control: `fit` seeds everything with the recipe's `seed` first. With `out_dir`, `history.json`/`.csv`
    are written every epoch and `last.pt` every `checkpoint_every` epochs and at the end; `resume` (a
    checkpoint, or a folder holding `last.pt`) continues that run exactly. `stop_after` ends the run after
    that epoch as if interrupted (the schedule still spans `epochs`). Callbacks: `on_epoch_start(epoch)`
    (e.g. set a temperature) and `on_epoch_end(record)`, epochs counted from 1.
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
    if device.type == "cpu":
        retain_freed_memory()  # no page faults on every step (1.4x on a 2-core CPU); see vggattn.allocator
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
            model, train_data, config, epoch, optimizer_, scheduler, scaler, autocast, device, progress
        )
        train_seconds = time.perf_counter() - started
        test_loss = test_acc = None
        if epoch % config.eval_every == 0 or epoch == epochs or epoch == stop_after:
            test_loss, test_acc = evaluate(model, test_data, device=device, tta_flip=config.tta_flip)
        _check_finite(model, test_loss, epoch, steps_per_epoch, last_lr)
        record = EpochRecord(
            epoch=epoch, train_loss=train_loss, train_acc=train_acc, test_loss=test_loss, test_acc=test_acc,
            seconds=train_seconds, eval_seconds=time.perf_counter() - started - train_seconds,
            images_per_s=images / train_seconds, lr=last_lr,
        )  # fmt: skip
        history.records.append(record)
        if progress:
            print(record.summary(epochs), flush=True)
        if out_dir is not None:
            history.to_json(out_dir / "history.json")
            history.to_csv(out_dir / "history.csv")
            if epoch % checkpoint_every == 0 or epoch == epochs or epoch == stop_after:
                save_checkpoint(
                    out_dir / LAST_CHECKPOINT, model, optimizer_, scheduler, epoch=epoch, history=history,
                    scaler=scaler, extra=run,
                )  # fmt: skip
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
) -> tuple[float, float, int, float]:
    """One pass over the training batches: (mean loss, accuracy, images seen, lr of the last step)."""
    model.train()
    _fix_frozen_norm_statistics(model)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    if not trainable:
        raise ValueError(f"nothing to train in epoch {epoch}: every parameter is frozen; unfreeze(model, parts) first")
    loader = batches(train_data, config.batch_size, train=True, seed=config.seed, epoch=epoch, device=device)
    bar = _progress_bar(loader, enabled=progress, total=len(loader), desc=f"epoch {epoch}/{config.epochs}",
                        leave=False, unit="batch", mininterval=0.5)  # fmt: skip (updates at most twice a second)
    loss_sum, correct, images = 0.0, torch.zeros((), dtype=torch.int64, device=device), 0
    started = time.perf_counter()
    for step, (x, y) in enumerate(bar, start=1):
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
            bar.set_postfix(loss=f"{loss_sum / images:.3f}", acc=f"{correct.item() / images:.1%}",
                            img_s=f"{images / (time.perf_counter() - started):,.0f}", refresh=False)  # fmt: skip
    if progress:
        bar.close()
    return loss_sum / images, correct.item() / images, images, last_lr
