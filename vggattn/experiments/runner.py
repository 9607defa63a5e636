"""Running a spec into the store, and `load_or_run`, what the notebooks call.

`run_experiment(spec)` trains every (arm, seed) run of the spec in `runs/experiments/NAME-HASH/ARM-sSEED/`
with `fit(out_dir=...)`: an interrupted run (Ctrl-C, a closed laptop) continues from its last finished epoch
when the same command is given again, and finished runs are not trained twice. Then it writes the result
and, for `saved_seed`, the model into the store.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .. import paths
from ..checkpoints import save_checkpoint
from ..data import CifarTensors, load_cifar10_splits
from ..finetune import build_arm, finetune_run, scratch_run
from ..history import History
from ..inspection import count_parameters
from ..runtime import autocast_dtype, pick_device
from ..train import evaluate
from .provenance import data_fingerprint, data_source, describe_data, provenance
from .registry import get_spec
from .spec import ExperimentSpec
from .store import (
    MODEL_FILE,
    ExperimentResult,
    current_hash,
    file_sha256,
    read_record,
    refresh_command,
    result_folder,
    status,
    write_record,
)

SLOW_CPU_IMAGES_PER_S = 364
"""Training images per second of the width-1/4 VGG16-BN on a 2-core 2.0 GHz AVX2 CPU (float32): the slow
machine the course's time budgets are set on (`python -m vggattn.bench engine`)."""


def work_folder(spec: ExperimentSpec) -> Path:
    """Where the runs of this version of the spec keep their checkpoints while they train (not committed)."""
    return paths.project_root() / "runs" / "experiments" / f"{spec.name}-{current_hash(spec)}"


def estimate(spec: ExperimentSpec, train_images: int) -> str:
    """How long running the spec takes, in words, before it starts."""
    images = spec.training_images(train_images)
    minutes = images / SLOW_CPU_IMAGES_PER_S / 60
    text = f"{images:,} training images, about {minutes:.0f} min on a 2-core CPU ({SLOW_CPU_IMAGES_PER_S} img/s)"
    record = read_record(spec.name)
    if record is not None:
        p = record["provenance"]
        text += f"; the stored run took {p['wall_seconds'] / 60:.0f} min on {p['cpu_model']}"
    return text


def run_experiment(
    spec: ExperimentSpec | str,
    *,
    force: bool = False,
    data: tuple[CifarTensors, CifarTensors] | None = None,
    progress: bool = True,
) -> ExperimentResult:
    """Train what `spec` says and store the result; a fresh stored result is loaded instead unless `force`.

    A fine-tune whose start model is missing or stale runs that first. `data`: the full (train, test) splits
    (default `load_cifar10_splits()`); the spec's selection is taken from them.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    state, reason = status(spec)
    if state == "fresh" and not force:
        if progress:
            print(f"{reason}: nothing to do (add --force to compute it again)", flush=True)
        return ExperimentResult.load(spec.name)
    if spec.start_from is not None and status(get_spec(spec.start_from))[0] != "fresh":
        if progress:
            print(f"{spec.name} starts from {spec.start_from}, which is not fresh: running it first", flush=True)
        run_experiment(spec.start_from, data=data, progress=progress)

    started = time.perf_counter()
    full_train, full_test = data if data is not None else load_cifar10_splits()
    train_data, test_data = spec.data.select(full_train, full_test)
    device = pick_device(spec.device)
    folder = work_folder(spec)
    if progress:
        print(
            f"{spec.name}: {spec.description}\n  {spec.data.describe()}; seeds {list(spec.seeds)}; "
            f"{estimate(spec, len(full_train))}\n  checkpoints in {paths.display_path(folder)} "
            f"(an interrupted run continues from there)",
            flush=True,
        )

    start_model, start_acc, start_sha = None, None, None
    if spec.kind == "finetune":
        start = ExperimentResult.load(spec.start_from)
        start_model, start_sha = start.model(device), start.record["model_sha256"]
        _, start_acc = evaluate(start_model, test_data, device=device, tta_flip=spec.recipe.tta_flip)

    runs, saved_model, added_parameters = [], None, 0
    for index, (arm, seed) in enumerate(spec.runs(), start=1):
        if progress:
            print(f"[{index}/{len(spec.runs())}] {spec.name}: {arm} arm, seed {seed}", flush=True)
        out_dir = folder / f"{arm}-s{seed}"
        if spec.kind == "finetune":
            run, model = finetune_run(
                start_model,
                spec.attention if arm == "attention" else None,
                seed,
                train_data=train_data,
                test_data=test_data,
                recipe=spec.recipe,
                placement=spec.placement,
                near_identity=spec.near_identity,
                progress=progress,
                device=device,
                out_dir=out_dir,
                **(dict(spec.model) if arm == "attention" else {}),  # e.g. dropout: FINETUNE_MODEL_OPTIONS
                **spec.attention_kwargs(),
            )
            start_point = run.start_acc
            if arm == "attention":
                added_parameters = count_parameters(model) - count_parameters(start_model)
        else:
            run, model = scratch_run(
                spec.model,
                spec.attention if arm == "attention" else None,
                seed,
                train_data=train_data,
                test_data=test_data,
                recipe=spec.recipe,
                placement=spec.placement,
                progress=progress,
                device=device,
                out_dir=out_dir,
                **spec.attention_kwargs(),
            )
            start_point = None
            if arm == "attention":
                added_parameters = count_parameters(model) - count_parameters(build_arm(spec.model, None, seed))
        history = run.history
        runs.append({"arm": arm, "seed": seed, "start_acc": start_point, "history": history.to_dicts()})
        if seed == spec.saved_seed and arm == spec.run_arms[0]:
            saved_model = (model, history)

    record = {
        "name": spec.name,
        "description": spec.description,
        "spec_hash": current_hash(spec),
        "spec": spec.as_dict(),
        "start_acc": start_acc,
        "start_model_sha256": start_sha,
        "added_parameters": added_parameters,
        "runs": runs,
        "model_file": None,
        "model_sha256": None,
    }
    result_folder(spec.name).mkdir(parents=True, exist_ok=True)
    # a spec that now stores no model must not leave the previous result's model behind (it would be committed)
    (result_folder(spec.name) / MODEL_FILE).unlink(missing_ok=True)
    if saved_model is not None:
        model_path = result_folder(spec.name) / MODEL_FILE
        model, history = saved_model
        save_checkpoint(
            model_path,
            model.cpu().to(getattr(torch, spec.saved_dtype)),
            epoch=len(history),
            history=history,
            rng_states={},
            extra={"experiment": spec.name, "spec_hash": record["spec_hash"]},
        )
        record["model_file"], record["model_sha256"] = MODEL_FILE, file_sha256(model_path)
        record["model_dtype"] = spec.saved_dtype
    train_seconds = sum(
        record_.seconds + record_.eval_seconds for run in runs for record_ in History.from_dicts(run["history"])
    )
    precision = str(autocast_dtype(device, spec.recipe.mixed_precision) or torch.float32).removeprefix("torch.")
    record["provenance"] = provenance(
        spec_hash=record["spec_hash"],
        name=spec.name,
        device=device,
        precision=precision,
        wall_seconds=time.perf_counter() - started,
        train_seconds=train_seconds,
        source=data_source(full_train, full_test),
    )
    write_record(spec.name, record)
    if progress:
        print(f"{spec.name}: stored in {paths.display_path(result_folder(spec.name))}/", flush=True)
    return ExperimentResult(spec, record)


def load_or_run(
    name: str, *, data: tuple[CifarTensors, CifarTensors] | None = None, progress: bool = True
) -> ExperimentResult:
    """The stored result of experiment `name` when it is fresh (saying where it came from), else run it now.

    With `data` (the full train and test splits the notebook loaded), a result computed on other data
    (the canonical archive vs the offline JPEG copy) is still loaded, and the line says so and how to
    recompute it on these data.
    """
    spec = get_spec(name)
    state, reason = status(spec)
    if state != "fresh":
        train_images = len(data[0]) if data is not None else 20_000
        print(
            f"{reason}. Running it now: {estimate(spec, train_images)}. From a shell: "
            f"`python -m vggattn experiments run {name}`",
            flush=True,
        )
        return run_experiment(spec, force=True, data=data, progress=progress)
    result = ExperimentResult.load(name)
    print(result.describe(), flush=True)
    if data is not None:
        stored = result.provenance["data_source"]
        if data_fingerprint(*data) != stored["fingerprint"]:
            print(
                f"  note: your data ({describe_data(data_source(*data))}) differ from the data of this result; "
                f"`{refresh_command(name)}` recomputes it on yours",
                flush=True,
            )
    return result
