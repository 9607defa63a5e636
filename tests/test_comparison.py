"""The comparison page (vggattn.comparison, `python -m vggattn compare`): every registry kind, exact costs, and the
very paired comparisons the mechanism notebooks print."""

from __future__ import annotations

import pytest

from vggattn.__main__ import main
from vggattn.attention.kinds import ATTENTION_KINDS
from vggattn.comparison import (
    NOT_TRAINED,
    PLAIN,
    PUBLISHED,
    GateSummary,
    VariantTiming,
    cost_table,
    gate_summary,
    published_table,
    time_variants,
    variant_costs,
    variant_kinds,
    variant_results,
)
from vggattn.experiments import ExperimentResult, get_spec, status
from vggattn.inspection import (
    GateVariation,
    article_dynamic_conv_parameters,
    conv_parameters,
    se_parameters,
    spatial_parameters,
)

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")

NARROW_BLOCK_END = (16, 32, 64, 128, 128)  # the last conv's channels of each block at width 1/4
FULL_BLOCK_END = (64, 128, 256, 512, 512)


@pytest.fixture(scope="module")
def costs():
    return variant_costs()


def test_the_variants_are_plain_and_the_registry(costs):
    assert variant_kinds() == (PLAIN, *ATTENTION_KINDS)
    assert list(costs) == list(variant_kinds())


def test_a_kind_added_to_the_registry_appears_without_other_edits(monkeypatch):
    monkeypatch.setitem(ATTENTION_KINDS, "se_copy", ATTENTION_KINDS["se"])
    assert "se_copy" in variant_kinds()
    result = variant_results(["se_copy"])["se_copy"]
    assert result.scratch.paired is None and "scratch-se_copy" in result.scratch.reason


def test_parameter_counts_are_exact(costs):
    plain, se, spatial = costs[PLAIN], costs["se"], costs["spatial"]
    assert plain.parameters_full == 14_728_266  # the common CIFAR VGG16-BN (seed notes)
    # SE as the store trains it (reduction 16, biases) at the end of each block, counted independently
    assert se.parameters_course - plain.parameters_course == sum(
        se_parameters(c, 16, bias=True) for c in NARROW_BLOCK_END
    )
    assert se.parameters_full - plain.parameters_full == sum(se_parameters(c, 16, bias=True) for c in FULL_BLOCK_END)
    assert spatial.parameters_full - plain.parameters_full == spatial.parameters_course - plain.parameters_course
    assert spatial.parameters_course - plain.parameters_course == 5 * spatial_parameters(7)
    article = sum(article_dynamic_conv_parameters(c, c) - conv_parameters(c, c, 3) for c in FULL_BLOCK_END)
    assert costs["article_dynamic"].parameters_full - plain.parameters_full == article == 167_290_204
    assert plain.flops_224 == 2 * 15_470_264_320  # VGG16-BN: 15.47 G multiply-adds (SE paper, Table 2)
    assert all(cost.flops_32 >= plain.flops_32 and cost.training_bytes > plain.training_bytes
               for kind, cost in costs.items() if kind != PLAIN)  # fmt: skip


def test_cost_table_has_a_row_per_variant(costs):
    timing = {kind: VariantTiming(kind, 1.0, 0.5) for kind in costs}
    table = cost_table(costs, timing)
    for kind in costs:
        assert f"\n{kind} " in table
    assert "x1.000" in table and "train step" in table


def test_time_variants_runs_every_variant_side_by_side():
    timing = time_variants(["se"], repeats=1)
    assert list(timing) == [PLAIN, "se"]
    assert all(t.train_seconds > 0 and t.infer_seconds > 0 for t in timing.values())


def test_the_interval_is_the_mechanism_notebooks_one():
    if status(get_spec("scratch-se"))[0] != "fresh" or status(get_spec("scratch-plain"))[0] != "fresh":
        pytest.skip("scratch-se is not fresh in the store")
    result = variant_results(["se"])["se"]
    assert result.scratch.paired == ExperimentResult.load("scratch-se").comparison().paired()
    assert result.scratch.paired.interval is not None


def test_a_missing_result_is_none_with_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("VGGATTN_EXPERIMENTS", str(tmp_path / "empty-store"))
    result = variant_results(["se"])["se"]
    assert result.scratch.paired is None
    assert result.scratch.reason == "not in the store yet: python -m vggattn experiments run scratch-se"
    assert result.finetune.reason == "not in the store yet: python -m vggattn experiments run se-finetune"
    assert result.gates is None


def test_a_kind_the_store_does_not_train_says_why():
    result = variant_results(["article_dynamic"])["article_dynamic"]
    assert result.scratch.paired is None and result.finetune.paired is None
    assert result.scratch.reason == NOT_TRAINED["article_dynamic"]


def test_the_command_line_prints_the_table(capsys):
    assert main(["compare", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "added params, width 1" in out and "from scratch (scratch-se)" in out
    for kind in variant_kinds():
        assert f"\n{kind} " in out


def test_gates_of_a_stored_model_and_its_init(tiny_cifar):
    if status(get_spec("scratch-se"))[0] != "fresh":
        pytest.skip("scratch-se is not fresh in the store")
    summary = gate_summary(ExperimentResult.load("scratch-se"), tiny_cifar)
    assert list(summary.trained) == [f"features.se{block}" for block in range(1, 6)] == list(summary.at_init)
    assert summary.last == "features.se5" and summary.images == len(tiny_cifar)
    assert summary.trained["features.se5"] != summary.at_init["features.se5"]


def test_the_last_stage_of_cbam_is_its_channel_gate():
    variation = GateVariation(0.5, 0.1, 0.01, 0.2)
    names = ["features.cbam4.channel", "features.cbam4.spatial", "features.cbam5.channel", "features.cbam5.spatial"]
    summary = GateSummary(dict.fromkeys(names, variation), dict.fromkeys(names, variation), 10)
    assert summary.last == "features.cbam5.channel"


def test_published_numbers_stand_beside_ours():
    results = variant_results(["se", "cbam", "dynamic"])
    table = published_table(results)
    assert table.count("\n") == len(PUBLISHED) + 1
    assert PUBLISHED["se-vgg16-top1"].gain == 1.8 and PUBLISHED["dy-resnet18"].gain == 2.3
    assert "27.02 -> 25.22" in table and "8.81 -> 7.70" in table
