"""The claims audit: every quantitative or testable claim of the three source articles, with a verdict.

    results = variant_results(test_data=images)    # vggattn.comparison: the store's comparisons, the trained gates
    rows = audit_claims(results, time_variants())  # a list of vggattn.claims.Claim
    show_claims(rows)                              # one format with the mechanism notebooks' tables

Every `measured` text is computed here: from the experiment store (`variant_results`: the very paired comparisons
the mechanism notebooks print), from exact package computations (parameters, FLOPs, memory, whether the articles'
code runs) and, when given, from the CPU timings and the trained gates measured in notebook 07. A claim that needs
what the course does not have (ImageNet, a GPU, a module it does not implement, a planned notebook) says so and why:
"not testable here". Each row names the notebook that shows it.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable

import torch
import torchvision
from torch import nn

from .advice import ADVICE_CLAIMS, advice_effects
from .attention import ArticleDynamicConv2d, DynamicConv2d, SpatialAttention, article_forward
from .claims import VERDICTS, Claim
from .comparison import (
    COURSE_WIDTH,
    PUBLISHED,
    TIMING_BATCH,
    VariantResult,
    VariantTiming,
    build_variant,
    percent,
    stage_label,
    training_bytes,
    variant_results,
)
from .experiments import ExperimentResult
from .finetune import BASELINE
from .inspection import article_dynamic_conv_parameters, count_flops, count_parameters, se_parameters, trace_shapes
from .models import build_vgg, load_backbone_weights
from .stats import paired_comparison

SPATIAL, SE, DYNAMIC, PAPERS = "spatial (000)", "SE (001)", "dynamic conv (002)", "published"
NB01, NB02, NB03, NB04 = "01_vgg16_baseline", "02_squeeze_excitation", "03_spatial_attention", "04_cbam"
NB05, NB06, NB07 = "05_dynamic_convolution", "06_practice", "07_comparison"
UNTESTABLE = "not testable here"
SE_BLOCK_CHANNELS = (64, 128, 256, 512, 512)
"""The channels of the article's five SE blocks (the end of each VGG16 block)."""


class _Rows(list):
    """The claims of one article: `add` fills in the article and the notebook."""

    def __init__(self, article: str, notebook: str) -> None:
        super().__init__()
        self.article, self.notebook = article, notebook

    def add(self, topic: str, said: str, measured: str, verdict: str | bool, notebook: str | None = None) -> None:
        """`verdict` True / False: "reproduced" / "contradicted"."""
        if isinstance(verdict, bool):
            verdict = "reproduced" if verdict else "contradicted"
        self.append(Claim(topic, said, measured, verdict, self.article, notebook or self.notebook))

    def untestable(self, *rows: tuple[str, ...]) -> None:
        """Rows (topic, said, why[, notebook]) the course cannot test."""
        for topic, said, why, *notebook in rows:
            self.add(topic, said, why, UNTESTABLE, *notebook)


# ------------------------------------------------------------------------------------ exact computations


@functools.cache
def _vgg16(**kwargs: object) -> nn.Module:
    """torchvision's VGG16 (no BN, ImageNet head) with `kwargs`, on the meta device (shapes only; cached)."""
    with torch.device("meta"):
        return build_vgg(16, **kwargs)


@functools.cache
def _narrow(kind: str) -> nn.Module:
    """The course's network (width 1/4, CIFAR head) with `kind`, on the meta device."""
    with torch.device("meta"):
        return build_variant(kind)


def _added(**kwargs: object) -> int:
    return count_parameters(_vgg16(**kwargs)) - count_parameters(_vgg16())


def _flops_ratio(model: nn.Module, plain: nn.Module, size: int) -> float:
    return count_flops(model, (1, 3, size, size)) / count_flops(plain, (1, 3, size, size))


def _raises(action: Callable[[], object]) -> str:
    """The exception `action()` raises ("TypeName: message", cut at 100 characters), or "" when it runs."""
    try:
        action()
    except Exception as error:  # noqa: BLE001 - whatever the articles' code raises is the finding
        message = str(error).splitlines()[0]
        return f"{type(error).__name__}: {message[:100]}{'...' if len(message) > 100 else ''}"
    return ""


class _ArticleSpatialAttention(SpatialAttention):
    """The spatial article's module as written: the package's gate, but it returns the map only (its VGG
    multiplies in a hand-written loop)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        super().forward(x)
        return self.last_gate  # (B, 1, H, W): the map, not the features


def _taps(kernel: int, size: int) -> int:
    """Weights of a 2-channel k x k conv (padding k // 2) that ever touch a size x size map."""
    return 2 * min(kernel, 2 * size - 1) ** 2


def _se_paper_gflops() -> tuple[float, float]:
    """VGG-16 (BN) at 224x224 counted as the SE paper counts: the multiply-adds of convs and linears, plus one
    multiply per gated element for SE after every conv (the SE paper's VGG placement, r = 16)."""
    with torch.device("meta"):
        plain = build_vgg(16, True)
        se = build_vgg(16, True, attention="se", placement="every_conv", reduction=16, bias=False)
    rows = trace_shapes(se, (1, 3, 224, 224))
    scale = sum(
        r.output_shape[1] * r.output_shape[2] * r.output_shape[3] for r in rows if r.type == "SqueezeExcitation"
    )
    return count_flops(plain, (1, 3, 224, 224)) / 2e9, (count_flops(se, (1, 3, 224, 224)) / 2 + scale) / 1e9


def _dynamic_in_resnet() -> tuple[int, float, str]:
    """Every 3x3 conv of torchvision's ResNet-18 replaced by `DynamicConv2d.from_conv`: (convs replaced, largest
    output difference relative to the largest output, what the article's module says to a stride-2 conv)."""
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18().eval()
    dynamic, replaced = copy.deepcopy(resnet), 0
    for parent in list(dynamic.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d) and child.kernel_size == (3, 3):
                setattr(parent, name, DynamicConv2d.from_conv(child))
                replaced += 1
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = resnet(x), dynamic(x)
    stride_two = next(m for m in resnet.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2))
    article = _raises(lambda: ArticleDynamicConv2d.from_conv(stride_two))
    return replaced, ((got - expected).abs().max() / expected.abs().max()).item(), article


def _attention_ignores_positions() -> bool:
    """Both dynamic designs compute their attention from channel means: shuffling the pixels changes nothing."""
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6)
    shuffled = x.flatten(2)[:, :, torch.randperm(36)].reshape_as(x)
    article, published = ArticleDynamicConv2d(8, 8, reduction=2), DynamicConv2d(8, 8, 3, padding=1)
    with torch.no_grad():
        kernel = torch.allclose(article.dynamic_kernel(x), article.dynamic_kernel(shuffled), atol=1e-6)
        return kernel and torch.allclose(published.attention(x), published.attention(shuffled), atol=1e-6)


# ------------------------------------------------------------------------------ rows from measurements


def _accuracy(rows: _Rows, topic: str, said: str, result: VariantResult, which: str) -> None:
    """An accuracy claim judged by the stored paired interval, or not testable with the store's reason."""
    stored = getattr(result, which)
    if stored.paired is None:
        rows.add(topic, said, f"{stored.name}: {stored.reason}", UNTESTABLE)
        return
    claim = Claim.from_comparison(topic, said=said, paired=stored.paired)
    means = f"{stored.name}: {result.kind} {stored.attention_mean:.2f}% vs plain {stored.plain_mean:.2f}%; "
    rows.add(topic, said, means + claim.measured, claim.verdict)


def _adapts(rows: _Rows, topic: str, said: str, result: VariantResult) -> None:
    """Reproduced when training makes the last stage's gate vary more with the image, and more with its class,
    than the same network's gate at init."""
    if result.gates is None:
        rows.add(topic, said, f"needs the trained gates: {result.gates_reason}", UNTESTABLE)
        return
    name = result.gates.last
    trained, init = result.gates.trained[name], result.gates.at_init[name]
    measured = (
        f"{result.scratch.name} (seed 0), {stage_label(name)} on {result.gates.images:,} test images: "
        f"spread over images {trained.across_images:.4f} ({init.across_images:.4f} at init), share between classes "
        f"{trained.between_class_share:.2f} ({init.between_class_share:.2f} at init)"
    )
    adapts = trained.across_images > init.across_images and trained.between_class_share > init.between_class_share
    rows.add(topic, said, measured, adapts)


def _cpu_time(rows: _Rows, topic: str, said: str, claimed: float, kind: str, timing, which: str) -> None:
    """A CPU-time claim: reproduced when the measured ratio to plain is at most the claimed one + 0.05."""
    if timing is None:
        why = "not measured in this call: CPU times are measured live (notebook 07, time_variants)"
        rows.add(topic, said, why, UNTESTABLE, NB07)
        return
    ratio = getattr(timing[kind], f"{which}_seconds") / getattr(timing["plain"], f"{which}_seconds")
    measured = (
        f"{'train step' if which == 'train' else 'inference'} x{ratio:.2f} plain ({kind}, width {COURSE_WIDTH}, batch "
        f"{TIMING_BATCH}, this run's CPU; the claim holds up to x{claimed + 0.05:.2f})"
    )
    rows.add(topic, said, measured, ratio <= claimed + 0.05, NB07)


# ------------------------------------------------------------------------------------------- articles


def spatial_claims(results: dict[str, VariantResult]) -> list[Claim]:
    """The spatial attention article (000)."""
    spatial, rows = results["spatial"], _Rows(SPATIAL, NB03)
    plain_total, added = count_parameters(_vgg16()), _added(attention="spatial")
    rows.add("spatial: VGG16 parameters", "138,357,544", f"{plain_total:,} (torchvision's vgg16)",
             plain_total == 138_357_544, NB01)  # fmt: skip
    per_module = count_parameters(SpatialAttention(7))
    rows.add("spatial: parameters per module", "about 100", f"{per_module} (2x7x7), {added} for five",
             90 <= per_module <= 110)  # fmt: skip
    ratios = (
        _flops_ratio(_vgg16(attention="spatial"), _vgg16(), 224),
        _flops_ratio(*map(_narrow, ("spatial", "plain")), 32),
    )
    measured = (
        f"parameters +{percent(added, plain_total)}; FLOPs +{percent(ratios[0] - 1, 1)} (VGG16, 224x224), "
        f"+{percent(ratios[1] - 1, 1)} (width 1/4, 32x32)"
    )
    rows.add("spatial: effect on model complexity", "minimal", measured, max(ratios) < 1.01)
    layers = (nn.Conv2d(3, 8, 3, padding=1), _ArticleSpatialAttention(), nn.Conv2d(8, 8, 3, padding=1))
    error = _raises(lambda: nn.Sequential(*layers)(torch.zeros(1, 3, 8, 8)))
    insertion = "inserted near identity it keeps a trained network's accuracy (notebook 03)"
    if spatial.finetune.paired is not None:
        stored = ExperimentResult.load(spatial.finetune.name)
        start = min(run.start_acc for run in stored.arm("attention"))
        insertion = f"inserted near identity into the baseline: {100 * start:.2f}% vs {100 * stored.start_acc:.2f}%"
    measured = (
        f"the article's module returns the map, not the features: in nn.Sequential the next conv raises {error}; its "
        f"VGG needs a hand-written forward loop. The package's module gates in place; {insertion}"
    )
    rows.add("spatial: plug and play", "integrates without large changes", measured, not error)
    shapes = trace_shapes(_narrow("spatial"), (1, 3, 32, 32))
    maps = [row.output_shape[-1] for row in shapes if row.type == "SpatialAttention"]
    measured = (
        "any odd size keeps H and W (the package takes 3, 5, 7, ...); on CIFAR's maps "
        + ", ".join(f"{s}x{s}" for s in maps)
        + f" a 7x7 kernel can use {', '.join(str(_taps(7, s)) for s in maps)} of its {_taps(7, 7)} weights"
    )
    rows.add("spatial: kernel size must be 3 or 7", "an assert allows 3 or 7 only", measured, "contradicted")
    measured = (
        "not testable here: interpretability needs a faithfulness test (occlusion, deletion), not in the course; at "
        f"CIFAR size the last two maps are {maps[-2]}x{maps[-2]} and {maps[-1]}x{maps[-1]}: one number per image"
    )
    rows.add("spatial: the maps make the model interpretable", "the maps show where it looks", measured, UNTESTABLE)
    regions = ("spatial: highlights important regions", "important regions up, irrelevant ones down")
    levels = ("spatial: from edges to semantics, block by block", "low-level to semantic attention")
    gates = spatial.gates
    if gates is None:
        rows.untestable(*((*claim, f"needs the trained gates: {spatial.gates_reason}") for claim in (regions, levels)))
    else:
        names = list(gates.trained)
        first, first_init = gates.trained[names[0]], gates.at_init[names[0]]
        measured = (
            f"scratch-spatial (seed 0), block 1 ({maps[0]}x{maps[0]}): spread over positions of the mean map "
            f"{first.across_units:.4f} (a pattern fixed for every image), over images {first.across_images:.4f}; "
            f"share between classes {first.between_class_share:.2f} ({first_init.between_class_share:.2f} at init)"
        )
        rows.add(*regions, measured, first.across_images > first.across_units)
        shares = [gates.trained[name].between_class_share for name in names]
        inits = [gates.at_init[name].between_class_share for name in names]
        measured = (
            f"share of each block's gate variation between classes, blocks 1-{len(names)}: "
            f"{', '.join(f'{s:.2f}' for s in shares)} trained ({', '.join(f'{s:.2f}' for s in inits)} at init)"
        )
        rows.add(*levels, measured, all(b >= a for a, b in zip(shares, shares[1:])))
    _accuracy(rows, "spatial: accuracy, from scratch", 'a "significant" gain', spatial, "scratch")
    _accuracy(rows, "spatial: accuracy, fine-tuned", 'a "significant" gain', spatial, "finetune")
    return rows


def se_claims(results: dict[str, VariantResult], timing: dict[str, VariantTiming] | None) -> list[Claim]:
    """The Squeeze-and-Excitation article (001)."""
    se, rows = results["se"], _Rows(SE, NB02)
    plain_total, added = count_parameters(_vgg16()), _added(attention="se", reduction=16, bias=False)
    formula = sum(se_parameters(c, 16, bias=False) for c in SE_BLOCK_CHANNELS)
    measured = f"{added:,} measured = {formula:,} by the formula = {percent(added, plain_total)} of VGG16"
    rows.add("SE: parameters, 2C^2/r per block", "76,288, about 0.055% of VGG16", measured, added == formula == 76_288)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Initializing zero-element tensors is a no-op": the defect's only sign
        mlp = nn.Sequential(nn.Linear(8, 8 // 16, bias=False), nn.ReLU(), nn.Linear(8 // 16, 8, bias=False))
    gates = torch.sigmoid(mlp(torch.randn(100, 8, generator=torch.Generator().manual_seed(0))))
    measured = (
        f"C=8, r=16: hidden width 0, every gate {gates.mean():.2f} for every image (spread {gates.std():.2f}); the "
        "package floors the width at 4"
    )
    rows.add("SE: the article's block for C < r", "the code builds Linear(C, C // r)", measured, "our check")
    biases = sum(se_parameters(c, 16, bias=True) for c in SE_BLOCK_CHANNELS) - formula
    measured = f"not testable here: the store trains SE with biases only ({biases:,} parameters in the article's VGG16)"
    rows.add("SE: bias=False costs no accuracy", "no negative effect on performance", measured, UNTESTABLE)
    costs = ", ".join(
        f"r={r}: {sum(se_parameters(c, r, bias=False) for c in SE_BLOCK_CHANNELS):,}" for r in (4, 8, 16, 32)
    )
    measured = f"the cost is exact ({costs} parameters); the accuracy is not testable here: the store trains r=16 only"
    rows.add("SE: the reduction ratio trades accuracy for cost", "balances performance and cost", measured, UNTESTABLE)
    first = {
        place: next(r.output_shape[1:] for r in trace_shapes(_vgg16(attention="se", placement=place), (1, 3, 224, 224))
                    if r.type == "SqueezeExcitation")
        for place in ("block_end", "after_pool")
    }  # fmt: skip
    measured = (
        f"the first gate scales a {first['block_end']} map before the pool, {first['after_pool']} after it (exact); "
        "the accuracy is not testable here: no stored comparison of the two placements"
    )
    rows.add("SE: before the pool, recalibration before downsampling", "keeps the important information", measured,
             UNTESTABLE)  # fmt: skip
    report = load_backbone_weights(build_vgg(**BASELINE, attention="se"), build_vgg(**BASELINE).state_dict())
    measured = f"every plain tensor fits ({len(report.loaded)} loaded, {len(report.skipped)} skipped)"
    if se.finetune.paired is not None:
        stored, careless = ExperimentResult.load("se-finetune"), ExperimentResult.load("se-finetune-careless")
        start, careless_start = (min(run.start_acc for run in r.arm("attention")) for r in (stored, careless))
        measured += (
            f"; the trained baseline scores {100 * stored.start_acc:.2f}%, {100 * start:.2f}% with SE inserted near "
            f"identity, {100 * careless_start:.2f}% with the default init (gates near 0.5)"
        )
    rows.add("SE: keeps pretrained VGG16 weights usable", "compatible with pretrained weights", measured,
             not report.skipped)  # fmt: skip
    said = 'a "significant" gain for 0.055% more parameters'
    _accuracy(rows, "SE: accuracy, from scratch", said, se, "scratch")
    _accuracy(rows, "SE: accuracy, fine-tuned", said, se, "finetune")
    _adapts(rows, "SE: recalibrates channels adaptively", "the gates depend on the input", se)
    _convergence(rows, se)
    _cpu_time(rows, "SE: CPU inference time", "+8%", 1.08, "se", timing, "infer")
    memory = training_bytes(build_variant("se")) / training_bytes(build_variant("plain")) - 1
    inference = added / plain_total
    measured = (
        f"inference (the weights): +{percent(inference, 1)}; a training step (weights, gradients, momentum and saved "
        f"activations; width 1/4, batch {TIMING_BATCH}): +{percent(memory, 1)}"
    )
    rows.add("SE: memory", "+3%", measured, min(abs(memory - 0.03), abs(inference - 0.03)) <= 0.015, NB07)
    with torch.device("meta"):
        mobilenet = torchvision.models.mobilenet_v3_small()
    blocks = sum(isinstance(m, torchvision.ops.SqueezeExcitation) for m in mobilenet.modules())
    measured = (
        f"torchvision's MobileNetV3-Small holds {blocks} SE blocks; the block keeps any (B, C, H, W) shape, so it fits "
        "after any conv (ResNet and Inception not built here)"
    )
    rows.add("SE: fits ResNet, Inception, MobileNet", "easily integrated", measured, blocks > 0, NB07)
    _cbam_over_se(rows, results)
    for technique, effect in advice_effects().items():  # the effects notebook 06 shows, from the same stored runs
        section, topic, said = ADVICE_CLAIMS[technique]
        rows.append(Claim.from_comparison(f"SE: {topic}", said=f"{said} ({section})", paired=effect.paired, article=SE,
                                          notebook=NB06))  # fmt: skip
    rows.untestable(
        ("SE: GPU inference time", "+5%", "not testable here: the course runs on a CPU; GPU not measured here", NB07),
        ("SE: stronger augmentation", "against overfitting on small data sets", "not testable here: every run uses "
         "the series' augmentation (random crop and flip); no experiment with a stronger one", NB06),
        ("SE: less overfitting on small data sets", "in transfer learning", "not testable here: the course "
         "fine-tunes on the task it trained on (CIFAR-10); no transfer to a new small data set"),
        ("SE: stronger features", "better representations", "not testable here as stated (no measure named); the "
         "accuracy rows are the test"),
        ("SE: faster adaptation to new tasks", "in transfer learning", "not testable here: no second task"),
        ("SE: variants sSE, scSE, BAM", "spatial, concurrent, bottleneck attention", "not testable here: not "
         "implemented in the package (CBAM is: its row above)", NB07),
        ("SE: pruning and distillation", "cut the time SE adds", "not testable here: structured pruning and "
         "distillation are training runs not made here; 06 shows that unstructured pruning leaves a dense CPU "
         "kernel as slow", NB06),
        ("SE: ONNX or TensorRT", "cut the time SE adds", "not testable here: TensorRT needs a GPU and the course times "
         "eager PyTorch; 06 exports every variant to ONNX and checks it against eager (not its speed)", NB06),
        ("SE: ImageNet top-1", "+1.5-2%", "not testable here (no ImageNet); SE paper Table 2, VGG-16 BN: top-1 "
         f"error {PUBLISHED['se-vgg16-top1'].change} ({PUBLISHED['se-vgg16-top1'].gain:+.2f} points)"),
        ("SE: ImageNet top-5", "+1-1.5%", "not testable here (no ImageNet); SE paper Table 2, VGG-16 BN: top-5 "
         f"error {PUBLISHED['se-vgg16-top5'].change} ({PUBLISHED['se-vgg16-top5'].gain:+.2f} points)"),
    )  # fmt: skip
    return rows


def _convergence(rows: _Rows, se: VariantResult) -> None:
    """Epochs SE needs to reach the plain run's training loss at 3/4 of its run, seed by seed (scratch-se):
    reproduced when every seed is at least 20% faster (less one epoch of resolution), contradicted when none is."""
    topic, said = "SE: converges faster", "about 20% faster (ImageNet)"
    if se.scratch.paired is None:
        rows.add(topic, said, f"scratch-se: {se.scratch.reason}", UNTESTABLE)
        return
    attention, control = ExperimentResult.load("scratch-se"), ExperimentResult.load("scratch-plain")
    speedups = []
    for seed in attention.spec.seeds:
        ours = attention.run("attention", seed).history.column("train_loss")
        plain = control.run("plain", seed).history.column("train_loss")
        at = 3 * len(plain) // 4
        reached = next((epoch for epoch, loss in enumerate(ours, 1) if loss <= plain[at - 1]), len(ours) + 1)
        speedups.append(1 - reached / at)
    enough = [speedup >= 0.2 - 1 / at for speedup in speedups]
    verdict = "reproduced" if all(enough) else "within noise" if any(enough) else "contradicted"
    measured = (
        f"CIFAR-10 from scratch (scratch-se vs scratch-plain, one-cycle schedule): SE reaches the plain run's training "
        f"loss of epoch {at} after {', '.join(f'{at * (1 - s):.0f}' for s in speedups)} epochs (seeds "
        f"{', '.join(map(str, attention.spec.seeds))}): {', '.join(f'{s:+.0%}' for s in speedups)} faster (one epoch "
        f"= {1 / at:.0%})"
    )
    rows.add(topic, said, measured, verdict)


def _cbam_over_se(rows: _Rows, results: dict[str, VariantResult]) -> None:
    """CBAM minus SE, seed by seed, from scratch (both trained with the same seeds, data order and recipe)."""
    topic, said = "SE: variant CBAM improves on SE", "channel then spatial attention"
    missing = [r.scratch for r in (results["cbam"], results["se"]) if r.scratch.paired is None]
    if missing:
        rows.add(topic, said, f"{missing[0].name}: {missing[0].reason}", UNTESTABLE, NB04)
        return
    finals = [{run.seed: 100 * run.final_acc for run in ExperimentResult.load(f"scratch-{k}").arm("attention")}
              for k in ("cbam", "se")]  # fmt: skip
    paired = paired_comparison(*finals, name="CBAM (scratch-cbam)")
    claim = Claim.from_comparison(topic, said=said, paired=paired)
    rows.add(topic, said, f"from scratch, SE (scratch-se) as the control: {claim.measured}", claim.verdict, NB04)


def dynamic_claims(results: dict[str, VariantResult], timing: dict[str, VariantTiming] | None) -> list[Claim]:
    """The dynamic convolution article (002)."""
    dynamic, rows = results["dynamic"], _Rows(DYNAMIC, NB05)
    crash = _raises(lambda: article_forward(ArticleDynamicConv2d(4, 2, 3, 1), torch.randn(2, 4, 5, 5)))
    rows.add("dynamic: the article's code runs", "a complete implementation is given", crash or "it runs", not crash)
    torch.manual_seed(0)
    module, x = ArticleDynamicConv2d(64, 64), torch.relu(torch.randn(2, 64, 8, 8))
    with torch.no_grad():
        kernel, base = module.dynamic_kernel(x), module.base_conv(x)
        swamp = ((module(x) - base).norm() / base.norm()).item()
    measured = (
        f"generated weights {kernel.min():.5f} to {kernel.max():.5f} at the article's init; the dynamic part is then "
        f"{swamp:.0f}x the base conv's output (64 channels)"
    )
    rows.add("dynamic: the sigmoid keeps generated weights in [0, 1]", "in [0, 1]", measured,
             0 < kernel.min().item() and kernel.max().item() < 1)  # fmt: skip
    plain_total = count_parameters(_vgg16())
    last, every = _added(attention="article_dynamic"), _added(attention="article_dynamic", placement="every_conv")
    measured = f"the last conv of each block: +{last:,} ({percent(last, plain_total)} of VGG16); every conv: +{every:,}"
    rows.add(
        "dynamic: only the last conv of each block, for efficiency", "balances gain and cost", measured, last < every
    )
    measured = (
        f"{article_dynamic_conv_parameters(512, 512):,} parameters for one 512->512 layer; +{last:,} in VGG16 "
        f"({percent(last, plain_total)}); the published form (K=4): +{_added(attention='dynamic', num_kernels=4):,}"
    )
    rows.add("dynamic: parameter efficient", "few parameters for the gain", measured, last < plain_total / 10)
    narrow = _flops_ratio(*map(_narrow, ("article_dynamic", "plain")), 32)
    full = _flops_ratio(_vgg16(attention="article_dynamic"), _vgg16(), 224)
    published = _flops_ratio(_vgg16(attention="dynamic"), _vgg16(), 224)
    measured = (
        f"FLOPs x{narrow:.2f} (width 1/4, 32x32), x{full:.2f} (VGG16, 224x224); the published form x{published:.3f}"
    )
    rows.add("dynamic: compute within +15%", "within 15%", measured, max(narrow, full) <= 1.15)
    _cpu_time(rows, "dynamic: training time within +15%", "within 15%", 1.10, "article_dynamic", timing, "train")
    ignores = _attention_ignores_positions()
    measured = (
        "the kernel (article) and pi (published) come from channel means: shuffling the pixels "
        f"{'leaves them unchanged' if ignores else 'changes them'}, so there is no spatial map to look at"
    )
    rows.add("dynamic: attention on eyes, nose and mouth", "the weights focus on facial parts", measured,
             "contradicted" if ignores else "our check")  # fmt: skip
    _adapts(rows, "dynamic: adapts the kernel to the content", "weights adjust to each input", dynamic)
    _accuracy(rows, "dynamic: better generalisation", "better on unseen content and styles", dynamic, "scratch")
    _accuracy(rows, "dynamic: accuracy, fine-tuned", "a clear performance gain", dynamic, "finetune")
    replaced, gap, article = _dynamic_in_resnet()
    measured = (
        f"the published form replaces all {replaced} 3x3 convs of torchvision's ResNet-18 (stride 2 included) with "
        f"the same output (difference {gap:.1e}); the article's module has no stride: {article or 'it fits'}"
    )
    rows.add("dynamic: fits VGG, ResNet, DenseNet", "no large changes to the network", measured, gap < 1e-4, NB07)
    measured = (
        f"x{count_parameters(_vgg16(attention='article_dynamic')) / plain_total:.2f} VGG16's parameters; no spatial map"
    )
    rows.add("dynamic: keeps the model simple and interpretable", "simple and interpretable", measured, "contradicted")
    ratios = ", ".join(f"r={r}: {article_dynamic_conv_parameters(512, 512, reduction=r):,}" for r in (4, 16, 64))
    rows.untestable(
        ("dynamic: deeper layers benefit more", "use it in the deeper layers", "not testable here: the store has no "
         "dynamic-convolution run per block"),
        ("dynamic: the reduction ratio trades accuracy for cost", "smaller ratio, more cost, maybe better", "the cost "
         f"is exact for one 512->512 layer ({ratios} parameters); the accuracy is not testable here: r=16 only"),
        ("dynamic: needs a careful lr schedule and regularisation", "adjust them", "not testable here: no run compares "
         "schedules for dynamic convolution (06 measures the SE article's advice for SE); the package anneals the "
         "softmax temperature 30 -> 1 (Chen et al.)", NB05),
        ("dynamic: multi-head and spatially aware extensions", "heads per pattern; spatial weights", "not testable "
         "here: not implemented in the package"),
        ("dynamic: temporal extension", "for video", "not testable here: no video in the course"),
        ("dynamic: ImageNet top-1", "+2-3%", "not testable here (no ImageNet; no VGG16 in the published work); Chen "
         f"et al.: MobileNetV3-Small {PUBLISHED['dy-mobilenetv3-small'].gain:+.1f}, ResNet-18 "
         f"{PUBLISHED['dy-resnet18'].gain:+.1f} points"),
    )  # fmt: skip
    return rows


def published_claims(results: dict[str, VariantResult]) -> list[Claim]:
    """The published anchors: those that can be counted here, and what the others stand beside."""
    rows = _Rows(PAPERS, NB07)
    paper, (plain, se) = PUBLISHED, _se_paper_gflops()
    measured = f"{plain:.3f} -> {se:.3f} (multiply-adds; SE after every conv, its scale counted)"
    flops = paper["se-vgg16-gflops"]
    rows.add(
        "SE paper: VGG-16 GFLOPs",
        flops.change,
        measured,
        (round(plain, 2), round(se, 2)) == (flops.without, flops.with_module),
    )
    ratio = _flops_ratio(_vgg16(attention="dynamic"), _vgg16(), 224)
    narrow = _flops_ratio(*map(_narrow, ("dynamic", "plain")), 32)
    measured = f"+{percent(ratio - 1, 1)} for K=4 in VGG16 at 224x224 (x{narrow:.3f} at 32x32, width 1/4)"
    rows.add("Chen et al.: about 4% extra FLOPs", "+4% (MobileNetV3-Small)", measured, ratio <= 1.04)
    ours = {
        kind: f"{results[kind].scratch.name}: {results[kind].scratch.short()}" for kind in ("se", "cbam", "dynamic")
    }
    chen = ", ".join(f"{paper[key].gain:+.1f} ({paper[key].setting.split(',')[0]})"
                     for key in ("dy-resnet18", "dy-mobilenetv2", "dy-mobilenetv3-small"))  # fmt: skip
    rows.untestable(
        ("SE paper: CIFAR-10 ResNet-110", f"error {paper['se-resnet110-cifar10'].change}%", "not reproduced: a "
         f"ResNet-110 at the paper's budget; ours, VGG16-BN width 1/4 for 16 epochs: {ours['se']}"),
        ("CBAM paper: ResNet-50 on ImageNet", f"top-1 error {paper['cbam-resnet50-se'].change} (SE), "
         f"{paper['cbam-resnet50-cbam'].change} (CBAM)", f"not reproduced: no ImageNet; on CIFAR-10: {ours['cbam']}"),
        ("Chen et al.: ResNet-18 and MobileNets", f"top-1 {chen} points", "not reproduced: no ImageNet; ours on "
         f"CIFAR-10: {ours['dynamic']}"),
    )  # fmt: skip
    return rows


def audit_claims(
    results: dict[str, VariantResult] | None = None, timing: dict[str, VariantTiming] | None = None
) -> list[Claim]:
    """Every claim of the three articles, and the published anchors, with a verdict (see the module's doc).

    `results`: `variant_results(...)` (default: the store's, without the trained gates); `timing`:
    `time_variants()` (default none: the CPU-time rows say they are measured live in notebook 07)."""
    results = variant_results() if results is None else results
    return [
        *spatial_claims(results),
        *se_claims(results, timing),
        *dynamic_claims(results, timing),
        *published_claims(results),
    ]


def verdict_counts(claims: list[Claim]) -> dict[str, int]:
    """{verdict: rows}, in `VERDICTS` order, for the verdicts that occur."""
    return {verdict: n for verdict in VERDICTS if (n := sum(claim.verdict == verdict for claim in claims))}


def with_verdict(claims: list[Claim]) -> int:
    """The rows judged here: every verdict but "not testable here"."""
    return sum(claim.verdict != UNTESTABLE for claim in claims)
