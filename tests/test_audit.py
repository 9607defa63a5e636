"""The claims audit (vggattn.audit): at least 35 claims of the three articles, each with a verdict and a measurement
computed here, and `make run`'s summary carrying it."""

from __future__ import annotations

import nbformat
import pytest

from vggattn.advice import ADVICE_CLAIMS, advice_effects
from vggattn.audit import audit_claims, se_claims, verdict_counts, with_verdict
from vggattn.claims import VERDICTS, record_claims
from vggattn.comparison import VariantTiming, variant_kinds, variant_results
from vggattn.notebook_runner import write_summary

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


@pytest.fixture(scope="module")
def results():
    return variant_results()  # from the store, without the trained gates (no test images)


@pytest.fixture(scope="module")
def claims(results):
    timing = {kind: VariantTiming(kind, 1.0, 1.0) for kind in variant_kinds()}
    timing["se"] = VariantTiming("se", 1.2, 1.05)  # SE inference +5%: within the article's +8%
    timing["article_dynamic"] = VariantTiming("article_dynamic", 3.0, 2.5)  # far outside "within 15%"
    return audit_claims(results, timing)


def by_topic(claims):
    return {claim.topic: claim for claim in claims}


def test_at_least_35_claims_each_with_a_verdict_and_a_measurement(claims):
    assert len(claims) >= 35
    assert len({claim.topic for claim in claims}) == len(claims), "topics must be unique"
    for claim in claims:
        assert claim.verdict in VERDICTS
        assert claim.measured.strip() and claim.said.strip() and claim.article and claim.notebook
    assert sum(verdict_counts(claims).values()) == len(claims)
    assert with_verdict(claims) == sum(claim.verdict != "not testable here" for claim in claims)


def test_every_article_is_audited(claims):
    articles = {claim.article for claim in claims}
    assert {"spatial (000)", "SE (001)", "dynamic conv (002)", "published"} <= articles
    topics = " ".join(claim.topic for claim in claims)
    advice = (
        "differential learning rates, progressive unfreezing, dropout, weight decay, label smoothing, gradient "
        "clipping, larger batch, GPU, memory, sSE, CBAM, pruning, ONNX, generalisation, multi-head, temporal, eyes, "
        "interpretable, plug and play"
    )
    for advice in advice.split(", "):
        assert advice in topics, advice


def test_exact_rows(claims):
    rows = by_topic(claims)
    assert rows["SE: parameters, 2C^2/r per block"].verdict == "reproduced"
    assert "76,288" in rows["SE: parameters, 2C^2/r per block"].measured
    assert rows["spatial: parameters per module"].measured.startswith("98 ")
    assert rows["dynamic: the article's code runs"].verdict == "contradicted"
    assert "einsum" in rows["dynamic: the article's code runs"].measured
    assert rows["dynamic: parameter efficient"].verdict == "contradicted"
    assert rows["SE paper: VGG-16 GFLOPs"].verdict == "reproduced"
    assert rows["dynamic: attention on eyes, nose and mouth"].verdict == "contradicted"
    assert rows["dynamic: fits VGG, ResNet, DenseNet"].verdict == "reproduced"


def test_cpu_time_rows_follow_the_measured_ratio(claims, results):
    rows = by_topic(claims)
    assert rows["SE: CPU inference time"].verdict == "reproduced"
    assert "x1.05" in rows["SE: CPU inference time"].measured
    assert rows["dynamic: training time within +15%"].verdict == "contradicted"
    untimed = by_topic(se_claims(results, None))
    assert untimed["SE: CPU inference time"].verdict == "not testable here"


def test_accuracy_rows_come_from_the_store(claims, results):
    row = by_topic(claims)["SE: accuracy, from scratch"]
    paired = results["se"].scratch.paired
    if paired is None:
        assert row.verdict == "not testable here" and "scratch-se" in row.measured
    else:
        assert paired.summary() in row.measured


def test_make_run_summary_appends_the_audit(tmp_path, monkeypatch, claims):
    monkeypatch.setenv("VGGATTN_RESULTS", str(tmp_path / "results"))
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), folder / "07_comparison.ipynb")
    record_claims("07_comparison", claims)
    summary = tmp_path / "results" / "summary.md"
    write_summary([folder / "07_comparison.ipynb"], summary)
    text = summary.read_text()
    assert "## The claims audit" in text and f"{len(claims)} claims" in text
    assert "| SE: parameters, 2C^2/r per block | SE (001) |" in text


def test_the_training_advice_rows_are_the_stored_paired_effects(claims):
    rows = by_topic(claims)
    effects = advice_effects()
    assert set(effects) == set(ADVICE_CLAIMS)
    for technique, effect in effects.items():
        row = rows[f"SE: {ADVICE_CLAIMS[technique][1]}"]
        assert row.measured == effect.paired.summary() and row.notebook == "06_practice"
        assert effect.paired.seeds == (0, 1, 2, 3, 4)
