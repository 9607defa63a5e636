"""Every attention variant on one page, measured the same way: cost (exact), CPU time (measured side by side),
accuracy (the experiment store's paired comparisons) and how much the trained gates depend on the input.

    costs = variant_costs()                       # parameters, FLOPs, training memory: exact, for every kind
    timing = time_variants()                      # CPU train-step and inference time, interleaved, as x plain
    results = variant_results(test_data=images)   # the stored scratch-KIND and KIND-finetune comparisons
    print(cost_table(costs, timing))
    print(result_table(results))

The variants are plain VGG16-BN and one per entry of `vggattn.attention.kinds.ATTENTION_KINDS`, so a kind added
there appears here (and in `python -m vggattn compare`) without editing anything else. Each kind is built with the
options the store trains it with (`scratch-KIND`'s attention options, else the kind's defaults).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from .attention.kinds import ATTENTION_KINDS
from .checks import check_choice, check_int
from .data import CifarTensors
from .experiments import ExperimentResult, get_spec, spec_names, status
from .finetune import BASELINE
from .inspection import GateVariation, collect_gates, count_flops, count_parameters, gate_variation
from .models import build_vgg
from .profiling import inference, median_seconds, saved_activation_bytes, sgd_for_timing, train_step
from .runtime import seed_everything
from .stats import PairedComparison

PLAIN = "plain"
FULL_WIDTH = 1.0
COURSE_WIDTH = BASELINE["width"]
TIMING_BATCH = 32
"""The batch of the CPU timings and of the training-memory count (as in notebooks 02, 03 and 05)."""
CONTROL = "scratch-plain"
NOT_TRAINED = {
    "article_dynamic": "not trained in the store: its kernel generator makes every training step several times "
    "slower than the plain network's and adds more parameters than the whole of VGG16 at full width (notebook 05); "
    "the store trains the published form, 'dynamic', instead",
}
"""Why a kind has no stored experiment (shown in place of its accuracy; tables show the part before the colon)."""


def variant_kinds() -> tuple[str, ...]:
    """The variants: "plain", then every attention kind of the registry, in its order."""
    return (PLAIN, *ATTENTION_KINDS)


def _kinds(kinds: Iterable[str] | None) -> tuple[str, ...]:
    chosen = variant_kinds() if kinds is None else tuple(kinds)
    for kind in chosen:
        check_choice("kind", kind, variant_kinds())
    if PLAIN not in chosen:
        chosen = (PLAIN, *chosen)  # every ratio is to plain
    return chosen


def scratch_name(kind: str) -> str:
    return CONTROL if kind == PLAIN else f"scratch-{kind}"


def finetune_name(kind: str) -> str:
    return f"{kind}-finetune"


def variant_options(kind: str) -> dict:
    """The attention options the store trains `kind` with (`scratch-KIND`'s), else {} (the kind's defaults)."""
    if kind == PLAIN:
        return {}
    name = scratch_name(kind)
    return get_spec(name).attention_kwargs() if name in spec_names() else {}


def build_variant(kind: str, width: float = COURSE_WIDTH, head: str = "cifar") -> nn.Module:
    """VGG16-BN at `width` with `kind` (or plain) where the store puts it; `head` "cifar" (10 classes) or
    "imagenet" (torchvision's head, 1,000 classes)."""
    config = {**BASELINE, "width": width, "head": head, "num_classes": 10 if head == "cifar" else 1000}
    if kind == PLAIN:
        return build_vgg(**config)
    return build_vgg(**config, attention=kind, **variant_options(kind))


# ------------------------------------------------------------------------------------------------- costs


@dataclass(frozen=True)
class VariantCost:
    """What one variant costs, exactly: parameters (CIFAR head) at full and course width, forward FLOPs of one
    image at 224x224 (full width, ImageNet head) and 32x32 (course width, CIFAR head), and the bytes a training
    step holds at the course width: weights, gradients and SGD momentum (3 x 4 bytes a parameter) plus the
    activations autograd saves for a batch of `TIMING_BATCH` (`saved_activation_bytes`)."""

    kind: str
    width: float
    parameters_full: int
    parameters_course: int
    flops_224: int
    flops_32: int
    training_bytes: int


def training_bytes(model: nn.Module, batch: int = TIMING_BATCH) -> int:
    """3 x 4 bytes per parameter (weights, gradients, momentum) + the saved activations of a random batch."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (batch,), generator=generator)
    return 12 * count_parameters(model) + saved_activation_bytes(model, x, y)


def variant_costs(kinds: Iterable[str] | None = None, width: float = COURSE_WIDTH) -> dict[str, VariantCost]:
    """{kind: VariantCost} for plain and every kind (full-width models on the meta device: shapes only)."""
    costs = {}
    for kind in _kinds(kinds):
        with torch.device("meta"):
            full = build_variant(kind, FULL_WIDTH)
            full_imagenet = build_variant(kind, FULL_WIDTH, head="imagenet")
            course_meta = build_variant(kind, width)
            parameters = (count_parameters(full), count_parameters(course_meta))
            flops = (count_flops(full_imagenet, (1, 3, 224, 224)), count_flops(course_meta, (1, 3, 32, 32)))
        seed_everything(0)
        memory = training_bytes(build_variant(kind, width))  # saved activations need real tensors
        costs[kind] = VariantCost(kind, width, *parameters, *flops, memory)
    return costs


# ------------------------------------------------------------------------------------------------ timing


@dataclass(frozen=True)
class VariantTiming:
    """Median seconds of one training step and one inference (eval, no autograd) on a random batch."""

    kind: str
    train_seconds: float
    infer_seconds: float


def time_variants(
    kinds: Iterable[str] | None = None,
    width: float = COURSE_WIDTH,
    *,
    batch: int = TIMING_BATCH,
    repeats: int = 5,
    threads: int | None = 1,
) -> dict[str, VariantTiming]:
    """CPU time of every variant, measured side by side: each round runs every variant's train step, then every
    variant's inference (`median_seconds`: one warm-up round, the median of `repeats`). `threads` (default 1,
    restored after): with several threads every operation waits for its slowest thread, and on a shared machine
    that wait, not the work, sets the time. Compare the ratios to plain, not the seconds."""
    check_int("batch", batch)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_int("threads", threads))
    try:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(batch, 3, 32, 32, generator=generator)
        y = torch.randint(0, 10, (batch,), generator=generator)
        models = {}
        for kind in _kinds(kinds):
            seed_everything(0)
            models[kind] = build_variant(kind, width)
        optimizers = {kind: sgd_for_timing(model) for kind, model in models.items()}
        actions = {("train", kind): (lambda k=kind: train_step(models[k], optimizers[k], x, y)) for kind in models}
        actions.update({("infer", kind): (lambda k=kind: inference(models[k], x)) for kind in models})
        seconds = median_seconds(actions, repeats)
    finally:
        torch.set_num_threads(previous)
    return {kind: VariantTiming(kind, seconds[("train", kind)], seconds[("infer", kind)]) for kind in models}


# ----------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class StoredComparison:
    """One stored comparison of a variant with its plain control: `paired` is `result.comparison().paired()`
    (the same object the mechanism notebooks print), or None with the `reason`."""

    name: str
    paired: PairedComparison | None
    reason: str = ""
    attention_mean: float | None = None
    plain_mean: float | None = None
    brief: str = ""  # the reason in a few words, for tables (default: the reason)

    def short(self) -> str:
        """The paired difference, its interval and verdict ("-0.21 [-1.15, +0.72] within noise"), or the reason."""
        if self.paired is None or self.paired.interval is None:
            return self.brief or self.reason or "no interval"
        low, high = self.paired.interval
        return f"{self.paired.mean:+.2f} [{low:+.2f}, {high:+.2f}] {self.paired.verdict}"


@dataclass(frozen=True)
class GateSummary:
    """`gate_variation` of every attention module's gates (a CBAM's channel and spatial gates apart) of the
    stored trained model, and of the same network at initialisation (seeded and built as the runner built it)."""

    trained: dict[str, GateVariation]
    at_init: dict[str, GateVariation]
    images: int

    @property
    def last(self) -> str:
        """The last stage's gate (for CBAM its channel gate; for dynamic convolution the kernel attention pi)."""
        names = list(self.trained)
        last_module = names[-1].rsplit(".", 1)[0] if names[-1].endswith((".channel", ".spatial")) else names[-1]
        return next(name for name in names if name == last_module or name.startswith(f"{last_module}."))


@dataclass(frozen=True)
class VariantResult:
    kind: str
    scratch: StoredComparison
    finetune: StoredComparison
    gates: GateSummary | None = None
    gates_reason: str = ""


def stored_state(name: str) -> tuple[bool, str]:
    """(fresh, why not): a registered experiment whose stored result matches its spec, else the command."""
    if name not in spec_names():
        return False, f"no experiment {name} is registered (vggattn/experiments/registry.py)"
    state, _ = status(get_spec(name))
    if state == "missing":
        return False, f"not in the store yet: python -m vggattn experiments run {name}"
    if state == "stale":
        return False, f"stale in the store (its spec changed): python -m vggattn experiments run {name} --force"
    return True, ""


def stored_comparison(name: str, kind: str) -> StoredComparison:
    """The paired comparison stored under `name`, or None with the reason (unregistered, missing, stale)."""
    fresh, reason = stored_state(name)
    if fresh:
        control = get_spec(name).control
        if control is not None:
            fresh, reason = stored_state(control)
            reason = f"its control {control} is {reason}" if reason else ""
    if not fresh:
        if name not in spec_names() and kind in NOT_TRAINED:
            return StoredComparison(name, None, NOT_TRAINED[kind], brief=NOT_TRAINED[kind].split(":")[0])
        return StoredComparison(name, None, reason)
    comparison = ExperimentResult.load(name).comparison()
    return StoredComparison(
        name, comparison.paired(), "", comparison.stats("attention").mean, comparison.stats("plain").mean
    )


def gate_summary(result: ExperimentResult, test_data: CifarTensors, device: str | torch.device = "cpu") -> GateSummary:
    """`gate_variation` per module of the stored model and of the same network at init, on `test_data`."""
    spec = result.spec
    seed_everything(spec.saved_seed)  # the runner seeds, then builds: the same init as the stored run had
    at_init = build_vgg(**spec.model, attention=spec.attention, placement=spec.placement, **spec.attention_kwargs())
    summaries = []
    for model in (result.model(device), at_init.to(device)):
        gates = collect_gates(model, test_data)
        summaries.append({name: gate_variation(values, test_data.labels) for name, values in gates.items()})
    return GateSummary(*summaries, len(test_data))


def variant_results(
    kinds: Iterable[str] | None = None,
    test_data: CifarTensors | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, VariantResult]:
    """Per kind, from the experiment store (never trains): the from-scratch comparison (`scratch-KIND` against
    scratch-plain) and the fine-tune (`KIND-finetune`), each None with the reason when the store lacks it; with
    `test_data` (the series' gate images: the fine-tune selection's test images), how much the trained gates of
    the stored scratch-KIND model depend on the image (`gate_variation`)."""
    results = {}
    for kind in _kinds(kinds):
        if kind == PLAIN:
            reference = StoredComparison(CONTROL, None, "the control of every comparison")
            results[kind] = VariantResult(kind, reference, reference, None, "no gates")
            continue
        scratch = stored_comparison(scratch_name(kind), kind)
        finetune = stored_comparison(finetune_name(kind), kind)
        gates, gates_reason = None, scratch.short() if scratch.paired is None else "no test images given"
        if scratch.paired is not None and test_data is not None:
            result = ExperimentResult.load(scratch.name)
            if result.record.get("model_file"):
                gates = gate_summary(result, test_data, device)
            else:
                gates_reason = f"{scratch.name} stores no model"
        results[kind] = VariantResult(kind, scratch, finetune, gates, gates_reason if gates is None else "")
    return results


# ------------------------------------------------------------------------------------------------ tables


def _ratio(value: float, plain: float) -> str:
    return f"x{value / plain:.3f}" if plain else "-"


def percent(part: float, whole: float) -> str:
    """100 * part / whole with 3 significant digits below 100 % and none above: "0.583%", "1137%"."""
    value = 100 * part / whole
    return f"{value:.0f}%" if abs(value) >= 100 else f"{value:.3g}%"


def _share(added: int, plain: int) -> str:
    return f"{added:+,} ({percent(added, plain)})"


def cost_table(costs: dict[str, VariantCost], timing: dict[str, VariantTiming] | None = None) -> str:
    """Parameters added (absolute and % of plain) at full and course width, FLOPs and training memory as x plain,
    and, with `timing`, the CPU train-step and inference time as x plain."""
    plain = costs[PLAIN]
    width = f"width {plain.width:g}"
    header = (
        f"{'variant':<16}{'added params, width 1':>26}{f'added params, {width}':>26}{'FLOPs 224':>11}"
        f"{'FLOPs 32':>10}{'train memory':>14}"
    )
    if timing is not None:
        header += f"{'train step':>12}{'inference':>11}"
    rows = [header, "-" * len(header)]
    for kind, cost in costs.items():
        row = (
            f"{kind:<16}{_share(cost.parameters_full - plain.parameters_full, plain.parameters_full):>26}"
            f"{_share(cost.parameters_course - plain.parameters_course, plain.parameters_course):>26}"
            f"{_ratio(cost.flops_224, plain.flops_224):>11}{_ratio(cost.flops_32, plain.flops_32):>10}"
            f"{_ratio(cost.training_bytes, plain.training_bytes):>14}"
        )
        if timing is not None and kind in timing:
            row += (
                f"{_ratio(timing[kind].train_seconds, timing[PLAIN].train_seconds):>12}"
                f"{_ratio(timing[kind].infer_seconds, timing[PLAIN].infer_seconds):>11}"
            )
        rows.append(row)
    rows.append(
        f"plain: {plain.parameters_full:,} parameters at width 1, {plain.parameters_course:,} at {width} (CIFAR "
        f"head); {plain.flops_224 / 1e9:.2f} GFLOPs at 224x224 (width 1, ImageNet head), "
        f"{plain.flops_32 / 1e6:.1f} MFLOPs at 32x32 ({width}); training memory {plain.training_bytes / 2**20:.1f} "
        f"MiB ({width}, batch {TIMING_BATCH})"
    )
    return "\n".join(rows)


def stage_label(name: str) -> str:
    """A gate's module name for a reader: "features.se5" -> "se5", "features.40" -> "features.40 (pi)"."""
    short = name.removeprefix("features.")
    return f"{name} (pi)" if short.isdigit() else short


def gate_text(result: VariantResult) -> str:
    """The last stage's spread of the gate over images and its share between classes, trained (at init)."""
    if result.gates is None:
        return result.gates_reason
    name = result.gates.last
    trained, init = result.gates.trained[name], result.gates.at_init[name]
    return (
        f"{stage_label(name)}: over images {trained.across_images:.4f} ({init.across_images:.4f} at "
        f"init), between classes {trained.between_class_share:.2f} ({init.between_class_share:.2f})"
    )


def result_table(results: dict[str, VariantResult]) -> str:
    """Per variant: from scratch and fine-tuned, the paired difference to plain (points, 95% interval, verdict),
    and how much the trained gates of the last stage depend on the image."""
    lines = []
    for kind, result in results.items():
        if kind == PLAIN:
            continue
        lines.append(f"{kind}")
        lines.append(f"  from scratch ({result.scratch.name}): {result.scratch.short()}")
        lines.append(f"  fine-tuned   ({result.finetune.name}): {result.finetune.short()}")
        lines.append(f"  gates: {gate_text(result)}")
    return "\n".join(lines)


def compared_kinds(results: dict[str, VariantResult]) -> list[str]:
    """The kinds with at least one stored comparison (plain counted as the reference)."""
    return [k for k, r in results.items() if k == PLAIN or r.scratch.paired or r.finetune.paired]


def interval_points(results: dict[str, VariantResult], which: str) -> dict[str, tuple[float, float, float]]:
    """{kind: (mean, low, high)} of the stored `which` ("scratch" or "finetune") comparisons that have one."""
    check_choice("which", which, ("scratch", "finetune"))
    points = {}
    for kind, result in results.items():
        paired = getattr(result, which).paired
        if paired is not None and paired.interval is not None:
            points[kind] = (paired.mean, *paired.interval)
    return points


# ------------------------------------------------------------------------------------- published anchors


@dataclass(frozen=True)
class Published:
    """A published figure without and with the module (`kind`: the course's closest attention kind)."""

    key: str
    source: str
    setting: str
    metric: str
    without: float
    with_module: float
    kind: str
    digits: int = 2  # as the source prints them

    @property
    def gain(self) -> float:
        """Points gained (lower error, higher accuracy); for GFLOPs the ratio with / without."""
        if self.metric == "GFLOPs":
            return self.with_module / self.without
        return round((self.without - self.with_module) * (1 if "error" in self.metric else -1), 2)

    @property
    def change(self) -> str:
        """Without -> with, as the source prints them ("27.02 -> 25.22")."""
        return f"{self.without:.{self.digits}f} -> {self.with_module:.{self.digits}f}"


_SE2, _SE4 = "Hu et al. 2018 (SE paper), Table 2", "Hu et al. 2018 (SE paper), Table 4"
_CBAM, _DY = "Woo et al. 2018 (CBAM paper), Table 4", "Chen et al. 2020 (Dynamic Convolution)"
PUBLISHED = {
    row.key: row
    for row in (
        Published("se-vgg16-top1", _SE2, "VGG-16 with BN, ImageNet", "top-1 error %", 27.02, 25.22, "se"),
        Published("se-vgg16-top5", _SE2, "VGG-16 with BN, ImageNet", "top-5 error %", 8.81, 7.70, "se"),
        Published("se-vgg16-gflops", _SE2, "VGG-16 with BN, 224x224", "GFLOPs", 15.47, 15.48, "se"),
        Published("se-resnet110-cifar10", _SE4, "ResNet-110, CIFAR-10", "error %", 6.37, 5.21, "se"),
        Published("cbam-resnet50-se", _CBAM, "ResNet-50 + SE, ImageNet", "top-1 error %", 24.56, 23.14, "se"),
        Published("cbam-resnet50-cbam", _CBAM, "ResNet-50 + CBAM, ImageNet", "top-1 error %", 24.56, 22.66, "cbam"),
        Published(
            "dy-mobilenetv3-small", _DY, "MobileNetV3-Small, ImageNet", "top-1 accuracy %", 67.4, 70.3, "dynamic", 1
        ),
        Published("dy-mobilenetv2", _DY, "MobileNetV2 x1.0, ImageNet", "top-1 accuracy %", 72.0, 74.4, "dynamic", 1),
        Published("dy-resnet18", _DY, "ResNet-18, ImageNet", "top-1 accuracy %", 70.4, 72.7, "dynamic", 1),
    )
}
"""The published anchors the course compares with, by key; none is reproduced here (ImageNet, other networks,
budgets) but the VGG-16 GFLOPs, which the audit counts. Chen et al. also report about 4% more FLOPs for their dynamic
MobileNetV3-Small."""


def published_table(results: dict[str, VariantResult]) -> str:
    """Markdown: each published figure and its gain beside our CIFAR-10 from-scratch result for the same kind."""
    lines = [
        "| source | network, data | metric | without -> with | gain | ours: CIFAR-10, from scratch, width 1/4 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in PUBLISHED.values():
        stored = results[row.kind].scratch
        ours = f"{row.kind} ({stored.name}): {stored.short()}"
        if row.metric == "GFLOPs":
            ours = 'counted by the audit (its row "SE paper: VGG-16 GFLOPs")'
        gain = f"x{row.gain:.4f}" if row.metric == "GFLOPs" else f"{row.gain:+.2f} points"
        lines.append(f"| {row.source} | {row.setting} | {row.metric} | {row.change} | {gain} | {ours} |")
    return "\n".join(lines)


def main(width: float = COURSE_WIDTH, timing: bool = True, test_data: CifarTensors | None = None) -> int:
    """`python -m vggattn compare`: the cost table (with the CPU timing unless `timing=False`) and the results."""
    costs = variant_costs(width=width)
    measured = time_variants(width=width) if timing else None
    print("VGG16-BN with each attention kind (CIFAR head unless said), ratios to the plain network:")
    print(cost_table(costs, measured))
    if measured is not None:
        print(f"CPU time: median of 5 interleaved rounds, batch {TIMING_BATCH}, 1 thread: compare the ratios")
    print()
    print(result_table(variant_results(test_data=test_data)))
    return 0
