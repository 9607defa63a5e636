"""'The article said, we measured': every notebook's claims table in one format, with one verdict per claim.

A notebook builds its rows from its own measurements and the experiment store, never from typed-in numbers:

    rows = [
        Claim("added parameters", said="76,288", measured=f"{added:,}", verdict="reproduced", article="SE"),
        Claim.from_comparison("CIFAR-10 from scratch", said="+1-2 points", paired=comparison.paired(),
                              article="SE"),
    ]
    show_claims(rows)

`record_claims` writes the rows next to the notebook's figures (`results/figures/<notebook>.claims.json`), so a
later page (the comparison notebook's audit) reads the verdicts the notebooks printed instead of copying them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from .checks import check_choice
from .paths import results_dir
from .runtime import atomic_write
from .stats import PairedComparison

VERDICTS = ("reproduced", "contradicted", "within noise", "not testable here", "our check")
"""reproduced / contradicted: the measurement agrees / disagrees with the claim (for an accuracy claim: the paired
95% interval excludes 0 on the claimed / the other side); within noise: the interval covers 0; not testable here:
the claim needs what the course does not have (ImageNet, a GPU, a budget), the reason in `measured`; our check: a
measurement the article makes no claim about."""


@dataclass(frozen=True)
class Claim:
    """One row: `topic` (a few words), what the article `said`, what was `measured` here (the number, its
    interval or the reason it cannot be measured), the `verdict` (one of VERDICTS), the `article` it comes
    from and, optionally, the `notebook` that shows it."""

    topic: str
    said: str
    measured: str
    verdict: str
    article: str = ""
    notebook: str = ""

    def __post_init__(self) -> None:
        check_choice("verdict", self.verdict, VERDICTS)
        for name in ("topic", "said", "measured"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"Claim {name} is empty: say what was claimed and what was measured")

    @classmethod
    def from_comparison(
        cls, topic: str, *, said: str, paired: PairedComparison, claimed: str = "better", **fields: str
    ) -> Claim:
        """A claim about an accuracy difference, judged by its paired 95% interval: `claimed` "better" (the
        article promises a gain) or "worse"; "none" makes it our own check. The measured text is the interval's
        summary (mean, interval, sign agreement, verdict, detectable size)."""
        check_choice("claimed", claimed, ("better", "worse", "none"))
        if claimed == "none":
            verdict = "our check"
        elif paired.interval is None:
            verdict = "not testable here"  # one seed: no interval
        elif paired.verdict in ("better", "worse"):
            verdict = "reproduced" if paired.verdict == claimed else "contradicted"
        else:
            verdict = "within noise"
        return cls(topic, said, paired.summary(), verdict, **fields)


def claims_markdown(claims: Iterable[Claim]) -> str:
    """The rows as one Markdown table: claim, article, the article said, we measured, verdict."""
    lines = ["| claim | article | the article said | we measured | verdict |", "| --- | --- | --- | --- | --- |"]
    for claim in claims:
        cells = (claim.topic, claim.article or "-", claim.said, claim.measured, claim.verdict)
        lines.append("| " + " | ".join(str(cell).replace("|", "/").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines)


def show_claims(claims: Sequence[Claim]) -> None:
    """Display the table (rendered Markdown in Jupyter, the Markdown text elsewhere) and a count per verdict."""
    table = claims_markdown(claims)
    counts = {verdict: sum(claim.verdict == verdict for claim in claims) for verdict in VERDICTS}
    summary = ", ".join(f"{count} {verdict}" for verdict, count in counts.items() if count)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with jupyterlab
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(table))
    else:
        print(table)
    print(f"{len(claims)} claims: {summary}")


def _claims_file(notebook: str):
    return results_dir() / "figures" / f"{notebook}.claims.json"


def record_claims(notebook: str, claims: Sequence[Claim]) -> None:
    """Write the notebook's rows to `results/figures/<notebook>.claims.json` (replacing what it wrote before)."""
    rows = [asdict(claim) | {"notebook": claim.notebook or notebook} for claim in claims]
    text = json.dumps(rows, indent=1, ensure_ascii=False)
    atomic_write(_claims_file(notebook), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_claims(notebook: str) -> list[Claim]:
    """The rows a notebook recorded, or [] if it recorded none."""
    path = _claims_file(notebook)
    if not path.is_file():
        return []
    return [Claim(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
