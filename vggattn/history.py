"""What a training run records: one `EpochRecord` per epoch, in a `History` (JSON and CSV, for curves)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .checks import check_number
from .runtime import atomic_write


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
        check_number("test_acc", test_acc, low=0, high=1, hint="an accuracy is a fraction here, not %")
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
        return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(self.to_dicts(), indent=2), encoding="utf-8"))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> History:
        return cls.from_dicts(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_csv(self, path: str | os.PathLike) -> Path:
        def write(tmp: Path) -> None:
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=_RECORD_FIELDS)
                writer.writeheader()
                writer.writerows(self.to_dicts())

        return atomic_write(path, write)

    def _check_not_empty(self) -> None:
        if not self.records:
            raise ValueError("the history is empty: no epoch has finished yet")


_RECORD_FIELDS = [f.name for f in fields(EpochRecord)]
