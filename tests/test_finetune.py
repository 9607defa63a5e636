"""The fine-tune protocol: attention insertion near identity, the fair comparison and its verdict."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY_VGG
from torch import nn

from vggattn.attention import DynamicConv2d
from vggattn.attention.kinds import ATTENTION_KINDS
from vggattn.finetune import (
    FINETUNE_RECIPE,
    Comparison,
    FinetuneRun,
    compare_finetune,
    compare_scratch,
    insert_attention,
    temperature_annealing,
)
from vggattn.history import EpochRecord, History
from vggattn.models import attention_modules, build_vgg
from vggattn.runtime import seed_everything
from vggattn.train import fit

TINY_BASELINE = TINY_VGG

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


def tiny_baseline(tiny_cifar, seed: int = 0) -> nn.Module:
    """A tiny plain VGG11-BN, trained one epoch so that its BatchNorm statistics are not the init's."""
    torch.manual_seed(seed)
    model = build_vgg(**TINY_BASELINE)
    fit(model, tiny_cifar, tiny_cifar, epochs=1, lr=0.05, batch_size=50, progress=False, device="cpu")
    return model.eval()


# ------------------------------------------------------------------------------------------------ verdict


def fake_run(arm: str, seed: int, final_acc: float) -> FinetuneRun:
    record = EpochRecord(1, 1.0, 0.5, 1.0, final_acc, 10.0, 1.0, 100.0, 0.01)
    return FinetuneRun(arm, seed, 0.75, History([record]))


def comparison(attention_accs: list[float], plain_accs: list[float]) -> Comparison:
    runs = [fake_run("attention", seed, acc) for seed, acc in enumerate(attention_accs)]
    runs += [fake_run("plain", seed, acc) for seed, acc in enumerate(plain_accs)]
    return Comparison("se", 0.76, tuple(runs), added_parameters=1234)


def test_verdict_is_paired_seed_by_seed():
    """A consistent gain of 3-4.5 points per seed: the interval excludes 0, so "better"."""
    result = comparison([0.80, 0.81, 0.82], [0.77, 0.775, 0.775])
    assert result.paired().differences == pytest.approx((3.0, 3.5, 4.5))
    assert result.difference == pytest.approx(11 / 3)
    assert result.paired().verdict == "better" and "3/3 agree in sign): better" in result.verdict()


def test_the_paired_verdict_sees_a_loss_the_arms_spread_would_hide():
    """The arms' own spreads (4 points) exceed the difference (1 point), but every seed loses 1 point."""
    result = comparison([0.76, 0.79, 0.78], [0.77, 0.80, 0.79])
    assert result.paired().verdict == "worse"


def test_verdict_within_noise_when_the_interval_covers_0():
    result = comparison([0.80, 0.81, 0.82], [0.81, 0.80, 0.81])
    assert result.paired().verdict == "within noise" and "within noise; the design detects about" in result.verdict()


def test_verdict_needs_two_seeds():
    assert "from one seed: no interval, run at least 2 seeds" in comparison([0.8], [0.7]).verdict()


def test_stats_and_table():
    result = comparison([0.80, 0.81, 0.82], [0.77, 0.775, 0.78])
    stats = result.stats("attention")
    assert (stats.mean, stats.low, stats.high) == pytest.approx((81.0, 80.0, 82.0))
    assert stats.std == pytest.approx(1.0) and stats.spread == pytest.approx(2.0)
    table = result.table()
    assert "se" in table and "plain" in table and "1,234 parameters" in table and result.verdict() in table
    with pytest.raises(ValueError, match="arm must be one of"):
        result.stats("control")


# -------------------------------------------------------------------------------------------------- insert


@pytest.mark.parametrize("kind", list(ATTENTION_KINDS))
def test_insert_attention_copies_the_backbone_and_starts_near_the_baseline(tiny_cifar, kind):
    baseline = tiny_baseline(tiny_cifar)
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        expected = baseline(x)
        torch.manual_seed(1)
        near, report = insert_attention(baseline, kind)
        torch.manual_seed(1)
        far, _ = insert_attention(baseline, kind, near_identity=False)
        near_error = (near(x) - expected).abs().max().item()
        far_error = (far(x) - expected).abs().max().item()

    assert near.config["attention"] == kind and not near.training
    key = "features.1.running_mean"  # the first BN: its statistics come from the baseline
    assert torch.equal(near.state_dict()[key], baseline.state_dict()[key]) and key in report.loaded
    assert attention_modules(near)
    scale = expected.abs().max().item()
    if kind == "dynamic":  # its K kernels all equal the plain kernel: the same function
        assert near_error < 1e-4 * scale
    else:  # gates of 0.99 (a seed dynamic conv: a generated kernel of 1e-6) against random gates
        assert near_error < far_error / 5


def test_insert_attention_refuses_what_it_cannot_do(tiny_cifar):
    baseline = build_vgg(**TINY_BASELINE)
    with pytest.raises(ValueError, match="attention must be one of"):
        insert_attention(baseline, "transformer")
    se_model, _ = insert_attention(baseline, "se")
    with pytest.raises(ValueError, match="already has attention='se'"):
        insert_attention(se_model, "cbam")
    with pytest.raises(TypeError, match="a model from build_vgg"):
        insert_attention(nn.Linear(2, 2), "se")
    with pytest.raises(ValueError, match="built with bias=False"):
        insert_attention(baseline, "se", bias=False)  # near identity needs the gate's bias


def test_temperature_annealing_goes_from_30_to_1():
    model = build_vgg(**TINY_BASELINE, attention="dynamic")
    anneal = temperature_annealing(model, epochs=10)  # over the first tenth: 1 epoch
    temperatures = []
    for elapsed in (0.0, 0.5, 1.0, 7.3):
        anneal(elapsed)
        temperatures.append({module.temperature for module in model.modules() if isinstance(module, DynamicConv2d)})
    assert temperatures == [{30.0}, {15.5}, {1.0}, {1.0}]
    assert temperature_annealing(build_vgg(**TINY_BASELINE), epochs=3) is None


# ------------------------------------------------------------------------------------------------- compare


def test_compare_finetune_runs_both_arms_with_the_same_seeds(tiny_cifar):
    baseline = tiny_baseline(tiny_cifar)
    before = {key: value.clone() for key, value in baseline.state_dict().items()}
    result = compare_finetune(
        baseline,
        "se",
        train_data=tiny_cifar,
        test_data=tiny_cifar,
        seeds=(0, 1),
        epochs=1,
        recipe=FINETUNE_RECIPE.replace(batch_size=50),
        progress=False,
        device="cpu",
    )

    order = [(run.arm, run.seed) for run in result.runs]
    assert order == [("attention", 0), ("plain", 0), ("attention", 1), ("plain", 1)]
    assert all(len(run.history) == 1 and 0 <= run.final_acc <= 1 for run in result.runs)
    assert all(run.start_acc == result.baseline_acc for run in result.arm("plain"))
    assert all(abs(run.start_acc - result.baseline_acc) <= 0.05 for run in result.arm("attention"))
    assert result.added_parameters == sum(
        p.numel() for _, module in attention_modules(insert_attention(baseline, "se")[0]) for p in module.parameters()
    )
    assert all(torch.equal(before[key], value) for key, value in baseline.state_dict().items())  # the control is a copy
    assert isinstance(result.verdict(), str) and result.table().count("\n") >= 4
    with pytest.raises(ValueError, match="seeds is empty"):
        compare_finetune(baseline, "se", train_data=tiny_cifar, test_data=tiny_cifar, seeds=(), progress=False)


def test_the_protocol_can_start_from_imagenet_weights(tiny_cifar, monkeypatch, seed_and_one_thread):
    """Online, `build_vgg(..., weights="IMAGENET1K_V1")` is the starting point; here torchvision's random VGG11-BN
    stands in for the download."""
    import torchvision

    reference = torchvision.models.vgg11_bn()
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, **kwargs: reference.state_dict())
    start = build_vgg(11, True, head="cifar", weights="IMAGENET1K_V1")  # backbone from ImageNet, a new CIFAR head
    assert torch.equal(start.features[0].weight, reference.features[0].weight)
    inserted, report = insert_attention(start, "se")
    assert report.initialised and all(".se" in key for key in report.initialised)
    result = compare_finetune(
        start,
        "se",
        train_data=tiny_cifar.subset_per_class(4),
        test_data=tiny_cifar.subset_per_class(2),
        seeds=(0,),
        epochs=1,
        recipe=FINETUNE_RECIPE.replace(batch_size=20),
        progress=False,
        device="cpu",
    )
    assert [run.arm for run in result.runs] == ["attention", "plain"]


def test_compare_scratch_trains_both_arms_from_the_same_seed(tiny_cifar):
    recipe = FINETUNE_RECIPE.replace(epochs=1, batch_size=50, eval_every=1)
    result = compare_scratch(
        "dynamic",
        train_data=tiny_cifar,
        test_data=tiny_cifar,
        seeds=(0, 1),
        recipe=recipe,
        model_config=TINY_BASELINE,
        progress=False,
        device="cpu",
    )
    assert [(run.arm, run.seed) for run in result.runs] == [
        ("attention", 0),
        ("plain", 0),
        ("attention", 1),
        ("plain", 1),
    ]
    assert result.paired().seeds == (0, 1) and all(run.start_acc is None for run in result.runs)
    seed_everything(0)
    plain = build_vgg(**TINY_BASELINE)
    alone = fit(plain, tiny_cifar, tiny_cifar, recipe, seed=0, progress=False, device="cpu")
    assert alone.final.test_acc == result.arm("plain")[0].final_acc, "the plain arm is the plain network's own run"
    seed_everything(0)
    dynamic = build_vgg(**TINY_BASELINE, attention="dynamic")
    assert result.added_parameters == sum(p.numel() for p in dynamic.parameters()) - sum(
        p.numel() for p in plain.parameters()
    )
    with pytest.raises(ValueError, match="seeds is empty"):
        compare_scratch("se", train_data=tiny_cifar, test_data=tiny_cifar, seeds=(), progress=False)
