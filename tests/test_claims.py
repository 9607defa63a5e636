"""The claims tables: one format, verdicts from paired intervals, recorded rows read back."""

from __future__ import annotations

import pytest

from vggattn.claims import Claim, claims_markdown, read_claims, record_claims, show_claims
from vggattn.results import clear_figures
from vggattn.stats import paired_comparison


def test_a_claimed_gain_is_judged_by_its_interval():
    gain = paired_comparison({0: 81.0, 1: 80.5, 2: 81.2}, {0: 80.5, 1: 80.0, 2: 80.8}, name="se")
    loss = paired_comparison({0: 79.0, 1: 78.9, 2: 79.4}, {0: 80.5, 1: 80.0, 2: 80.8}, name="se")
    noise = paired_comparison({0: 81.0, 1: 79.0, 2: 80.9}, {0: 80.5, 1: 80.0, 2: 80.8}, name="se")
    one_seed = paired_comparison({0: 81.0}, {0: 80.5}, name="se")
    said = "+1 point"
    assert Claim.from_comparison("accuracy", said=said, paired=gain).verdict == "reproduced"
    assert Claim.from_comparison("accuracy", said=said, paired=loss).verdict == "contradicted"
    assert Claim.from_comparison("accuracy", said=said, paired=loss, claimed="worse").verdict == "reproduced"
    assert Claim.from_comparison("accuracy", said=said, paired=noise).verdict == "within noise"
    assert Claim.from_comparison("accuracy", said=said, paired=one_seed).verdict == "not testable here"
    assert Claim.from_comparison("accuracy", said="-", paired=gain, claimed="none").verdict == "our check"
    assert "95% interval" in Claim.from_comparison("accuracy", said=said, paired=noise).measured


def test_bad_rows_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("x", "said", "measured", "probably")
    with pytest.raises(ValueError, match="measured is empty"):
        Claim("x", "said", " ", "reproduced")


def test_one_table_format_and_rows_recorded_for_the_audit(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VGGATTN_RESULTS", str(tmp_path))
    rows = [
        Claim("parameters", "76,288", "76,288", "reproduced", article="SE"),
        Claim("ImageNet top-1", "+1.5 points", "no ImageNet here", "not testable here", article="SE"),
    ]
    table = claims_markdown(rows)
    assert table.splitlines()[0] == "| claim | article | the article said | we measured | verdict |"
    assert table.count("\n") == 3 and "| parameters | SE | 76,288 | 76,288 | reproduced |" in table
    show_claims(rows)
    assert "2 claims: 1 reproduced, 1 not testable here" in capsys.readouterr().out
    record_claims("02_squeeze_excitation", rows)
    back = read_claims("02_squeeze_excitation")
    assert [claim.notebook for claim in back] == ["02_squeeze_excitation"] * 2
    assert [claim.topic for claim in back] == ["parameters", "ImageNet top-1"]
    assert read_claims("99_none") == []
    clear_figures("02_squeeze_excitation")  # what the notebook runner does before executing the notebook
    assert read_claims("02_squeeze_excitation") == []
