"""Experiments as data: a named, hashed spec says exactly what one stored training result is.

A spec holds the model (a `build_vgg` config, or the stored model it starts from), the attention and its
options, the recipe (`TrainConfig`), the data selection, the seeds and the device policy. Its hash
(`spec_hash`) identifies the result: a stored result whose hash differs from its spec's is stale.

Three kinds:

| kind | what runs, per seed | runs (arm, seed) |
| --- | --- | --- |
| `"train"` | one network from scratch (the baseline) | `(arm, seed)` for each seed |
| `"finetune"` | `attention` inserted into the stored `start_from` model, and a plain copy as control | both arms |
| `"scratch"` | the network with `attention` and the plain one, both from scratch | both arms |
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..attention.kinds import ATTENTION_KINDS
from ..checks import check_choice, check_int
from ..data import CifarTensors
from ..train import TrainConfig

KINDS = ("train", "finetune", "scratch")
FINETUNE_MODEL_OPTIONS = ("dropout",)
"""`build_vgg` arguments a "finetune" spec's `model` may set: they change the start model's network without adding
weights, so that the stored weights still load."""
CONTROL_ARMS = ("plain", "attention")
SAVED_DTYPES = ("float32", "float16")
SPEC_FORMAT = 1  # bump when the meaning of a spec field changes: every stored result becomes stale


@dataclass(frozen=True)
class DataSelection:
    """Which images a run trains and is scored on: `n` per class of each split (None: every image).

    Subsets are drawn with `CifarTensors.subset_per_class(n, seed=subset_seed)`: the same for every arm and
    seed of an experiment.
    """

    train_per_class: int | None = None
    test_per_class: int | None = None
    subset_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("train_per_class", "test_per_class"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        check_int("subset_seed", self.subset_seed, minimum=0)

    def select(self, train: CifarTensors, test: CifarTensors) -> tuple[CifarTensors, CifarTensors]:
        """The selected (train, test) of the full splits."""
        if self.train_per_class is not None:
            train = train.subset_per_class(self.train_per_class, seed=self.subset_seed)
        if self.test_per_class is not None:
            test = test.subset_per_class(self.test_per_class, seed=self.subset_seed)
        return train, test

    def describe(self) -> str:
        def part(n: int | None, split: str) -> str:
            return f"all {split} images" if n is None else f"{n} {split} images per class"

        return f"{part(self.train_per_class, 'training')}, {part(self.test_per_class, 'test')}"


@dataclass(frozen=True)
class ExperimentSpec:
    """One named experiment: what `python -m vggattn experiments run NAME` trains and stores.

    `model`: the plain network's `build_vgg` arguments ("train" and "scratch"; a "finetune" takes the
    architecture of the `start_from` experiment's stored model). `attention_options` go to `build_vgg` /
    `insert_attention` (e.g. `(("num_kernels", 4),)`). `saved_seed`: the seed whose model is stored for the
    notebooks' figures (the attention arm where there is one), or None to store no model. `control`: the
    experiment whose plain runs (same seeds, data order and recipe) are this one's control, when it trains
    the attention arm only (several attention kinds then share one set of plain runs). `control_arm`: which arm
    of `control` is the control: "plain", or "attention" for a change of recipe or head (`model` in a
    "finetune": `FINETUNE_MODEL_OPTIONS`) measured against the same attention trained without it (same
    seeds, data and attention; the training advice of notebook 06). `saved_dtype`: the
    precision of the stored model's weights, "float16" where a float32 file would pass the store's 5 MB per
    model (it is loaded back as float32; the recorded accuracies are the float32 model's).
    """

    name: str
    kind: str
    description: str
    recipe: TrainConfig
    seeds: tuple[int, ...] = (0,)
    data: DataSelection = DataSelection()
    model: Mapping[str, Any] = field(default_factory=dict)
    attention: str | None = None
    attention_options: tuple[tuple[str, Any], ...] = ()
    placement: str | None = None
    near_identity: bool = True
    arms: tuple[str, ...] = ("attention", "plain")
    start_from: str | None = None
    device: str = "auto"
    saved_seed: int | None = None
    notebooks: tuple[str, ...] = ()
    control: str | None = None
    saved_dtype: str = "float32"
    control_arm: str = "plain"

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        if not isinstance(self.recipe, TrainConfig):
            raise TypeError(f"{self.name}: recipe must be a TrainConfig, got {type(self.recipe).__name__}")
        if not self.seeds:
            raise ValueError(f"{self.name}: seeds is empty; give at least one seed")
        for seed in self.seeds:
            check_int("seed", seed, minimum=0)
        if self.kind == "finetune" and (self.start_from is None or self.attention is None):
            raise ValueError(f"{self.name}: a finetune needs start_from (a stored model) and an attention kind")
        if self.kind == "scratch" and self.attention is None:
            raise ValueError(f"{self.name}: a scratch comparison needs an attention kind")
        if self.kind != "finetune" and not self.model:
            raise ValueError(f"{self.name}: a {self.kind!r} experiment needs model (build_vgg arguments)")
        if self.kind == "finetune" and self.model:
            unknown = sorted(set(self.model) - set(FINETUNE_MODEL_OPTIONS))
            if unknown:
                raise ValueError(
                    f"{self.name}: a finetune takes its network from {self.start_from!r}; its model may set only "
                    f"{FINETUNE_MODEL_OPTIONS}, got {unknown}"
                )
            if "plain" in self.arms:
                raise ValueError(
                    f"{self.name}: model={dict(self.model)} changes the attention arm only; train arms=('attention',) "
                    "against a control experiment (control=..., control_arm='attention')"
                )
        check_choice("control_arm", self.control_arm, CONTROL_ARMS)
        if self.control_arm != "plain" and self.control is None:
            raise ValueError(f"{self.name}: control_arm={self.control_arm!r} needs a control experiment (control=...)")
        if self.saved_seed is not None and self.saved_seed not in self.seeds:
            raise ValueError(f"{self.name}: saved_seed {self.saved_seed} is not one of the seeds {self.seeds}")
        for arm in self.arms:
            check_choice("arm", arm, ("attention", "plain"))
        check_choice("saved_dtype", self.saved_dtype, SAVED_DTYPES)
        if self.attention is not None:
            check_choice("attention", self.attention, ATTENTION_KINDS)

    @property
    def run_arms(self) -> tuple[str, ...]:
        """The arms trained per seed: a "train" experiment trains its one network."""
        if self.kind == "train":
            return ("plain" if self.attention is None else "attention",)
        return self.arms

    def runs(self) -> list[tuple[str, int]]:
        """(arm, seed) of every run, in the order they are trained."""
        return [(arm, seed) for seed in self.seeds for arm in self.run_arms]

    def attention_kwargs(self) -> dict[str, Any]:
        return dict(self.attention_options)

    def as_dict(self) -> dict[str, Any]:
        """Everything that decides the result, as plain JSON values (the description is not part of it)."""
        return {
            "format": SPEC_FORMAT,
            "kind": self.kind,
            "recipe": self.recipe.as_dict(),
            "seeds": list(self.seeds),
            "data": {
                "train_per_class": self.data.train_per_class,
                "test_per_class": self.data.test_per_class,
                "subset_seed": self.data.subset_seed,
            },
            "model": dict(self.model),
            "attention": self.attention,
            "attention_options": {key: value for key, value in self.attention_options},
            "placement": self.placement,
            "near_identity": self.near_identity,
            "arms": list(self.run_arms),
            "start_from": self.start_from,
            "device": self.device,
            "saved_seed": self.saved_seed,
            # added after format 1: in the hash only when set, so that adding them kept older results fresh
            **({"control": self.control} if self.control is not None else {}),
            **({"attention_version": self.attention_version} if self.attention_version != 1 else {}),
            **({"saved_dtype": self.saved_dtype} if self.saved_dtype != "float32" else {}),
            **({"control_arm": self.control_arm} if self.control_arm != "plain" else {}),
        }

    @property
    def attention_version(self) -> int:
        """The attention kind's `version` (1 without attention): a new version makes the stored result stale."""
        return ATTENTION_KINDS[self.attention].version if self.attention is not None else 1

    def spec_hash(self, start_from_hash: str | None = None) -> str:
        """16 hex digits of the SHA-256 of `as_dict()` (and of the start model's spec hash, for a finetune)."""
        text = json.dumps({**self.as_dict(), "start_from_hash": start_from_hash}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def training_images(self, train_images: int) -> int:
        """Images passed through a training step in all runs, given the full training split's size."""
        per_run = self.recipe.epochs * (
            train_images if self.data.train_per_class is None else 10 * self.data.train_per_class
        )
        return per_run * len(self.runs())
