"""Chart evidence: the shapes of a finding's evidence that the UI draws, declared once with their JSON forms.

Checks build these and store `to_dict()` in a finding's evidence under a `ChartKey`; the UI reads them back with
`from_dict`, which turns evidence it cannot draw (a record written by hand, a damaged one) into None, never an
error. The JSON forms are those records have always had, so decisions logged by older versions still draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Value = float | None
"""One plotted value; None is a gap (a day without rows, a bin without outcomes)."""

ReferenceLevelKey = Literal["reference_share", "reference_rate"]
REFERENCE_LEVEL_KEYS: tuple[ReferenceLevelKey, ...] = ("reference_share", "reference_rate")


class ChartKey(StrEnum):
    """The evidence keys that hold chart evidence, and what each holds."""

    HISTOGRAM = "histogram"
    """A `BinComparison` of shares per bin or category."""
    OUTCOME_BY_SCORE_BIN = "outcome_by_score_bin"
    """A `BinComparison` of the outcome rate (mean outcome) per score bin."""
    RESIDUAL_BY_FEATURE_BIN = "residual_by_feature_bin"
    """A `BinComparison` of the mean residual (label - score) per bin of a feature."""
    DAILY = "daily"
    """A `DailySeries` of the current window."""


@dataclass(frozen=True)
class BinComparison:
    """Reference vs current values per labelled bin (a histogram's shares, an outcome rate per score bin)."""

    labels: Sequence[str]
    reference: Sequence[Value]
    current: Sequence[Value]
    current_share: Sequence[Value] | None = None
    """The share of the current window's rows in each bin, where the values are means over those rows."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in a finding's evidence."""
        document: dict[str, Any] = {
            "labels": list(self.labels),
            "reference": list(self.reference),
            "current": list(self.current),
        }
        if self.current_share is not None:
            document["current_share"] = list(self.current_share)
        return document

    def largest_change(self) -> int:
        """The index of the bin whose value moved most between the windows (bins with a gap skipped)."""
        changes = [
            abs(current - reference) if current is not None and reference is not None else -1.0
            for reference, current in zip(self.reference, self.current, strict=True)
        ]
        return max(range(len(changes)), key=changes.__getitem__)

    @classmethod
    def from_dict(cls, document: object) -> BinComparison | None:
        """The comparison in `document`; None unless it has a list of labels and a value per label on each side
        (values that are not numbers become gaps)."""
        if not isinstance(document, dict) or not isinstance(document.get("labels"), list):
            return None
        labels = [str(label) for label in document["labels"]]
        reference, current = numbers(document.get("reference")), numbers(document.get("current"))
        if len(reference) != len(labels) or len(current) != len(labels):
            return None
        shares = document.get("current_share")
        return cls(labels, reference, current, numbers(shares) if isinstance(shares, list) else None)


@dataclass(frozen=True)
class DailySeries:
    """Per-day values of the current window: numeric series drawn as lines, flags that shade days, and the
    reference window's level of the series (a dashed line)."""

    days: Sequence[str]
    series: Mapping[str, Sequence[Value]]
    """Named series, one value per day, in the order they are drawn."""
    flags: Mapping[str, Sequence[bool | None]] = field(default_factory=dict)
    """Named per-day flags (e.g. `drifting`; None: the day was not judged); the first one shades its days."""
    reference_level: float | None = None
    reference_level_key: ReferenceLevelKey = "reference_share"
    """Whether the level is a share (of rows) or a rate (of events); its key in the JSON form."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in a finding's evidence: days, each series and flag by name, then the level."""
        document: dict[str, Any] = {"days": list(self.days)}
        document |= {name: list(values) for name, values in self.series.items()}
        document |= {name: list(values) for name, values in self.flags.items()}
        if self.reference_level is not None:
            document[self.reference_level_key] = self.reference_level
        return document

    @classmethod
    def from_dict(cls, document: object) -> DailySeries | None:
        """The series in `document`; None unless it is a mapping. Lists of booleans (None on days not judged)
        are flags, other lists series (values that are not numbers become gaps); a series or flag without a
        value per day is left out."""
        if not isinstance(document, dict):
            return None
        days = [str(day) for day in document.get("days") or []]
        lists = {
            name: values for name, values in document.items() if name != "days" and isinstance(values, list)
        }
        flag_lists = {name: values for name, values in lists.items() if _are_flags(values)}
        series = {name: numbers(values) for name, values in lists.items() if name not in flag_lists}
        level_key: ReferenceLevelKey = "reference_share"
        level = None
        for key in REFERENCE_LEVEL_KEYS:
            candidate = document.get(key)
            if isinstance(candidate, int | float) and not isinstance(candidate, bool):
                level_key, level = key, float(candidate)
                break
        return cls(
            days,
            {name: values for name, values in series.items() if len(values) == len(days)},
            {name: values for name, values in flag_lists.items() if len(values) == len(days)},
            level,
            level_key,
        )


def _are_flags(values: list[Any]) -> bool:
    """Booleans, with None on days not judged (and at least one boolean)."""
    return any(isinstance(v, bool) for v in values) and all(v is None or isinstance(v, bool) for v in values)


def numbers(values: object) -> list[Value]:
    """Each item of a list as a float, or None where it is not a number; [] for anything but a list."""
    if not isinstance(values, list):
        return []
    return [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None for v in values]
