"""Per-item outcomes of the crawl: a progress bar while it runs, a summary and a report table.

Each item ends in one status: ``done`` (fetched and stored now), ``cached`` (already in the raw
layer, no request made), ``failed`` (with a reason code; retried on the next run) or
``skipped`` (nothing to fetch, e.g. no Spotify match to download).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, replace

import pandas as pd

from soundtrack_emotion.datasets.api_support import redact
from soundtrack_emotion.runtime.progress import progress

logger = logging.getLogger(__name__)

STATUSES = ("done", "cached", "failed", "skipped")
REPORT_COLUMNS = ("stage", "item", "status", "reason", "tries", "detail", "path")
_LOGGED_FAILURES = 5  # per stage at WARNING level; the report has them all


@dataclass(frozen=True)
class ItemOutcome:
    """One row of the acquisition report."""

    stage: str
    item: str
    status: str
    reason: str = ""
    tries: int = 0
    detail: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


class StageLog:
    """Collects the outcomes of one stage, shows their progress (a bar with counts and ETA on a
    terminal, a line per tenth when piped) and logs a summary when the stage ends."""

    def __init__(self, stage: str, *, total: int | None, show: bool) -> None:
        self.stage = stage
        self.outcomes: list[ItemOutcome] = []
        self._counts: Counter[str] = Counter()
        # A bar on a terminal, a line per tenth when the output is a file or a pipe.
        self._bar = progress(total=total, desc=stage, unit="item", enabled=show)

    def __enter__(self) -> StageLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()
        logger.info(self.summary())

    def expect(self, more: int) -> None:
        """Raise the bar's total when the number of items becomes known piecemeal."""
        self._bar.total = (self._bar.total or 0) + more
        self._bar.refresh()

    def add(self, outcome: ItemOutcome) -> None:
        outcome = replace(outcome, detail=redact(outcome.detail)[:500])
        self.outcomes.append(outcome)
        self._counts[outcome.status] += 1
        if outcome.status == "failed":
            failures = self._counts["failed"]
            level = logging.WARNING if failures <= _LOGGED_FAILURES else logging.DEBUG
            logger.log(
                level,
                "%s %s failed: %s %s",
                self.stage,
                outcome.item,
                outcome.reason,
                outcome.detail,
            )
            if failures == _LOGGED_FAILURES:
                logger.warning(
                    "%s: further failures are logged at DEBUG level and listed in "
                    "the acquisition report",
                    self.stage,
                )
        self._bar.set_postfix({s: self._counts[s] for s in STATUSES}, refresh=False)
        self._bar.update(1)

    def summary(self) -> str:
        parts = []
        for status in STATUSES:
            n = self._counts[status]
            if not n:
                continue
            reasons = Counter(o.reason for o in self.outcomes if o.status == status and o.reason)
            detail = ", ".join(f"{r}: {c}" for r, c in sorted(reasons.items()))
            parts.append(f"{n} {status}" + (f" ({detail})" if detail else ""))
        return f"{self.stage}: " + (", ".join(parts) if parts else "nothing to do")

    def frame(self) -> pd.DataFrame:
        return outcomes_frame(self.outcomes)


def outcomes_frame(outcomes: list[ItemOutcome]) -> pd.DataFrame:
    """The report table: one row per item, columns ``REPORT_COLUMNS``."""
    frame = pd.DataFrame([asdict(o) for o in outcomes], columns=list(REPORT_COLUMNS))
    return frame.astype({"tries": "int64"})
