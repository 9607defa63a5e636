"""pytest settings for running the notebooks under nbval (`make nbval`).

After a cell finishes, nbval waits at most 5 seconds for each further output message; the limit is
hard-coded (`IPyNbCell.output_timeout`; nbval issues #136 and #231 ask for an option). A long training
cell with a progress bar queues many messages, and on the busy 2-core CI machine that wait failed once
("Timeout of 5 seconds exceeded waiting for output") although the cell had run correctly. This hook
raises the wait to `OUTPUT_TIMEOUT_SECONDS`; a cell that hangs is still stopped by `--nbval-cell-timeout`.
"""

from __future__ import annotations

import pytest

OUTPUT_TIMEOUT_SECONDS = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if hasattr(item, "output_timeout"):  # an nbval cell
            item.output_timeout = max(item.output_timeout, OUTPUT_TIMEOUT_SECONDS)
