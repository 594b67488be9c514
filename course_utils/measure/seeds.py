"""Results over seeds, and the course's one rule for claiming that two methods differ.

A training result depends on the seed (the draw of the data, the initial weights, the batch order), so every
comparison runs each method on at least :data:`MIN_SEEDS` seeds and claims a difference only when the gap
between the means is larger than the spread (best minus worst seed) of either method; otherwise the page says
"within noise"::

    from course_utils.measure import Runs, differs, verdict
    a, b = Runs([0.81, 0.82, 0.83]), Runs([0.78, 0.785, 0.79])
    differs(a, b)                      # True: the gap 0.035 is larger than both spreads (0.02 and 0.01)
    verdict(a, b, ("A", "B"))          # 'A is 3.5 points above B (more than the spread over seeds, 2.0)'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..core.errors import ExperimentError

__all__ = ["MIN_SEEDS", "Runs", "differs", "verdict"]

#: A difference between two methods is claimed only with at least this many seeds behind each.
MIN_SEEDS = 3


@dataclass(frozen=True)
class Runs:
    """One method's result (an accuracy in [0, 1], or a loss) for each seed, in seed order."""

    values: tuple[float, ...]

    def __init__(self, values: Iterable[float]) -> None:
        vals = tuple(float(v) for v in values)
        if not vals:
            raise ExperimentError("Runs needs at least one value (one per seed)")
        if not all(math.isfinite(v) for v in vals):
            raise ExperimentError(f"Runs got a value that is not a finite number: {vals}")
        object.__setattr__(self, "values", vals)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        """The mean over seeds."""
        return sum(self.values) / len(self.values)

    @property
    def low(self) -> float:
        """The lowest value over seeds."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The highest value over seeds."""
        return max(self.values)

    @property
    def spread(self) -> float:
        """Highest minus lowest value: how much the result moves from one seed to another."""
        return self.high - self.low

    def fmt(self, scale: float = 100, digits: int = 1, unit: str = " %") -> str:
        """``'89.3 % (88.9–89.6)'``: the mean and, in brackets, the lowest and highest value."""
        return f"{self.mean * scale:.{digits}f}{unit} ({self.low * scale:.{digits}f}–{self.high * scale:.{digits}f})"

    def __str__(self) -> str:
        return self.fmt()


def _runs(x: Runs | Sequence[float]) -> Runs:
    if isinstance(x, Runs):
        return x
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise ExperimentError(f"compare Runs or sequences of numbers (one per seed), got a {type(x).__name__}")
    return Runs(x)


def differs(a: Runs | Sequence[float], b: Runs | Sequence[float]) -> bool:
    """Whether the means of ``a`` and ``b`` differ by more than the larger of their spreads over seeds.

    Needs at least :data:`MIN_SEEDS` seeds behind each: with fewer it raises, since one seed is an anecdote.
    """
    a, b = _runs(a), _runs(b)
    if min(len(a), len(b)) < MIN_SEEDS:
        raise ExperimentError(
            f"{len(a)} and {len(b)} seeds: a difference needs at least {MIN_SEEDS} seeds behind each method"
        )
    return abs(a.mean - b.mean) > max(a.spread, b.spread)


def verdict(
    a: Runs | Sequence[float],
    b: Runs | Sequence[float],
    names: Sequence[str] = ("A", "B"),
    scale: float = 100,
    unit: str = "points",
    digits: int = 1,
) -> str:
    """One sentence: ``a`` above or below ``b`` by so much, or "within noise" when the spread is as large.

    ``scale`` multiplies the values for printing (100: accuracies in [0, 1] as percentage points; 1: as given).
    """
    if len(names) != 2:
        raise ExperimentError(f"names: give the two methods' names, got {names!r}")
    a, b = _runs(a), _runs(b)
    first, second = names
    gap, spread = scale * (a.mean - b.mean), scale * max(a.spread, b.spread)
    if not differs(a, b):
        return (
            f"{first} vs {second}: {gap:+.{digits}f} {unit}, within noise (the seeds spread over {spread:.{digits}f})"
        )
    side = "above" if gap > 0 else "below"
    return f"{first} is {abs(gap):.{digits}f} {unit} {side} {second} (more than the spread over seeds, {spread:.{digits}f})"
