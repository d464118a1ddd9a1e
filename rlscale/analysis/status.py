"""Whether a fitted law is physical and identified: one rule set for every law of the analysis.

Each fit (P1 D_J(σ), B*(σ), η*(σ); P2 D(σ, N), B*(σ, N)) gets a `status`:

- `unidentified`: fewer distinct points than parameters + 1; or the loss changes by less than 1e-3
  (relative) when one parameter is multiplied or divided by 2 with the others refitted (or drops
  by more: the fit is then no optimum); or no bootstrap refit gave a finite value of a parameter
  (its interval cannot be computed).
- `at_bound`: a parameter within 1% of the edge of its physical domain — a floor such as D_min ≥ 0
  below 1% of the smallest observed value, an exponent below 0.01, a scale (a σ or N at which a
  power term reaches the data's size) more than 1e3x outside the data's range — or a bootstrap
  interval that reaches such an edge.
- `ok`: none of these.

When several hold, `unidentified` wins; `status_reason` lists every reason found. The laws supply
their parameters' domains, the data range, the bootstrap intervals and a `refit(name, factor)`
callable; `bootstrap_refits` is the shared refit loop of every law, whose refits start where the
law's default fit starts (never at the point estimate, so a degenerate optimum is not inherited by
its interval).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rlscale.analysis.errors import AnalysisError

OK, AT_BOUND, UNIDENTIFIED = "ok", "at_bound", "unidentified"
STATUSES = (OK, AT_BOUND, UNIDENTIFIED)
EDGE_FRACTION = 0.01  # "within 1% of the edge": a floor below 1% of the smallest observed value
EXPONENT_EDGE = 0.01  # an exponent below this is at its edge 0
SCALE_FACTOR = 1e3  # a scale parameter further than this outside the data's range is at an edge
FLAT_LOSS = 1e-3  # relative loss change under x2 or /2 (others refitted) below which: unidentified
PROFILE_FACTORS = (2.0, 0.5)


@dataclass(frozen=True)
class Domain:
    """A parameter's physical domain and the data it is judged against.

    kind: "floor" (≥ 0, at its edge below EDGE_FRACTION x `low`, the smallest observed value),
    "exponent" (> 0, at its edge below EXPONENT_EDGE), "scale" (> 0, at an edge further than
    SCALE_FACTOR outside [`low`, `high`]), "positive" (> 0, no edge tested) or "free" (any sign;
    not profiled, since x2 is no test of a value that may be 0). `what` names the data range.
    """

    kind: str
    low: float = math.nan
    high: float = math.nan
    what: str = ""
    label: str = ""  # how reasons name the parameter (default: its key)

    def edge(self, value: float) -> str | None:
        """Where `value` sits at the edge of this domain ("at its bound 0 (...)"), or None."""
        if not math.isfinite(value):
            return "is not finite"
        if self.kind == "floor" and value < EDGE_FRACTION * self.low:
            return (
                f"at its bound 0 (<{100 * EDGE_FRACTION:g}% of the smallest observed {self.what} "
                f"{self.low:.3g})"
            )
        if self.kind == "exponent" and value < EXPONENT_EDGE:
            return f"at its bound 0 (an exponent below {EXPONENT_EDGE:g})"
        if self.kind == "scale" and not (
            self.low / SCALE_FACTOR <= value <= self.high * SCALE_FACTOR
        ):
            side = "below" if value < self.low / SCALE_FACTOR else "above"
            return (
                f"more than {SCALE_FACTOR:g}x {side} the tested {self.what} range "
                f"[{self.low:.3g}, {self.high:.3g}]"
            )
        return None


def floor(smallest: float, what: str = "D") -> Domain:
    """A value ≥ 0 (D_min, qscaled's c), judged against the smallest observed value."""
    return Domain("floor", float(smallest), math.nan, what)


def exponent() -> Domain:
    """An exponent > 0 (α, β, c of the P2 batch law)."""
    return Domain("exponent")


def scale(low: float, high: float, what: str, label: str = "") -> Domain:
    """A scale > 0 in the units of a tested variable (σ or N), judged against its tested range."""
    return Domain("scale", float(low), float(high), what, label)


def positive() -> Domain:
    """A value > 0 with no natural edge to test (an amplitude)."""
    return Domain("positive")


def free() -> Domain:
    """A value of any sign (a log-log slope or intercept)."""
    return Domain("free")


@dataclass(frozen=True)
class Bootstrap:
    """Parameters refitted on each bootstrap sample (`draws`, column `sample`) and the failures."""

    draws: pd.DataFrame
    samples: int
    failed: int

    @property
    def failed_share(self) -> float:
        return self.failed / self.samples if self.samples else math.nan

    def info(self) -> dict[str, Any]:
        """What a fit's `info["bootstrap"]` records."""
        return {"samples": self.samples, "failed": self.failed, "failed_share": self.failed_share}


def bootstrap(samples: Iterable[tuple[Any, Any]], refit: Callable[[Any], dict | None]) -> Bootstrap:
    """Refit a law on every bootstrap sample; a refit that returns None or raises has failed.

    Args:
        samples: (sample id, that sample's data) pairs.
        refit: data -> parameters, or None (or AnalysisError) where the sample cannot be fitted or
            the optimiser found no finite loss. Non-finite parameter values of a successful refit
            (β = b·m^(1/α) overflows as α -> 0) are kept; `percentile_ci` skips them.
            It must start where the law's own fit starts (its default start or fixed starts), never
            at the point estimate: a degenerate point optimum would otherwise be inherited by every
            refit and give a falsely narrow interval.

    Returns:
        The finite refits, the number of samples and how many failed.
    """
    rows, total, failed = [], 0, 0
    for sample_id, data in samples:
        total += 1
        try:
            params = refit(data)
        except AnalysisError:
            params = None
        if params is None:
            failed += 1
            continue
        rows.append({"sample": sample_id, **{k: float(v) for k, v in params.items()}})
    return Bootstrap(pd.DataFrame(rows), total, failed)


@dataclass(frozen=True)
class Refits:
    """What a fit records of its bootstrap: the refits, their intervals and `info["bootstrap"]`.

    The default is "no bootstrap was run": `intervals` None (not {}) tells `assess` to skip the
    interval checks instead of finding every interval missing.
    """

    draws: pd.DataFrame | None = None
    intervals: dict[str, tuple[float, float]] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def bootstrap_refits(
    samples: Iterable[tuple[Any, Any]] | None, refit: Callable[[Any], dict | None], level: float
) -> Refits:
    """`bootstrap` over `samples` with the `level` percentile intervals; no samples, no bootstrap.

    Args:
        samples, refit: as `bootstrap` (so each refit starts where the law's own fit starts).
        level: the intervals' level.
    """
    samples = list(samples) if samples is not None else []
    if not samples:
        return Refits()
    boot = bootstrap(samples, refit)
    return Refits(boot.draws, percentile_ci(boot.draws, level), {"bootstrap": boot.info()})


def percentile_ci(draws: pd.DataFrame, ci: float) -> dict[str, tuple[float, float]]:
    """name -> (low, high) percentile interval of each column, ignoring non-finite draws."""
    tail = 100.0 * (1.0 - ci) / 2.0
    out = {}
    for name in draws.columns.drop("sample", errors="ignore"):
        values = draws[name].to_numpy(float)
        values = values[np.isfinite(values)]
        if len(values):
            out[name] = (
                float(np.percentile(values, tail)),
                float(np.percentile(values, 100 - tail)),
            )
    return out


def assess(
    params: dict[str, float],
    domains: dict[str, Domain],
    points: int,
    loss: float = math.nan,
    refit: Callable[[str, float], float] | None = None,
    ci: dict[str, tuple[float, float]] | None = None,
    level: float = 0.95,
) -> tuple[str, str]:
    """The status of one fit and why.

    Args:
        params: fitted values by name (only the names in `domains` are judged).
        domains: name -> Domain of every free parameter of the law (their count is the law's).
        points: distinct data points the fit used (σ values, (σ, N) pairs, (env, σ) rows).
        loss: the fit's loss at `params`.
        refit: (name, factor) -> the loss with that parameter multiplied by `factor` and the others
            refitted; None skips the flatness test (linear fits: identified by the count alone).
        ci: bootstrap intervals by name, or None when no bootstrap was run.
        level: the intervals' level, for the reasons' wording.

    Returns:
        (status, reason): one of STATUSES and the reasons joined by "; " ("" for ok).
    """
    unidentified, at_bound = [], []
    if points < len(domains) + 1:
        unidentified.append(
            f"{points} distinct points for {len(domains)} parameters (needs {len(domains) + 1})"
        )
    at_edge = set()
    for name, domain in domains.items():
        value = float(params[name])
        where = domain.edge(value)
        if where:
            at_bound.append(f"{domain.label or name} = {value:.3g} {where}")
            at_edge.add(name)
    if refit is not None and not unidentified and math.isfinite(loss):
        for name, domain in domains.items():
            if name in at_edge or domain.kind == "free":
                continue
            flat = _flat_direction(name, domain.label or name, loss, refit)
            if flat:
                unidentified.append(flat)
    if ci is not None:
        for name, domain in domains.items():
            if name not in ci:
                unidentified.append(f"no bootstrap refit gave a finite {domain.label or name}")
                continue
            if name in at_edge:
                continue
            low, high = ci[name]
            where = domain.edge(low) or domain.edge(high)
            if where:
                at_bound.append(
                    f"{domain.label or name}'s {100 * level:g}% interval [{low:.3g}, {high:.3g}] "
                    f"reaches the edge: {where}"
                )
    status = UNIDENTIFIED if unidentified else AT_BOUND if at_bound else OK
    return status, "; ".join(unidentified + at_bound)


def _flat_direction(
    key: str, name: str, loss: float, refit: Callable[[str, float], float]
) -> str | None:
    """Why the loss is flat along parameter `key` (shown as `name`) under x2 or /2, or None."""
    for factor in PROFILE_FACTORS:
        moved = float(refit(key, factor))
        change = (moved - loss) / loss if loss > 0 else (math.inf if moved > 0 else 0.0)
        if change >= FLAT_LOSS:
            continue
        verb = "multiplied" if factor > 1 else "divided"
        if change < -FLAT_LOSS:  # the refit found a clearly lower loss: the fit is no optimum
            return (
                f"the loss drops by {-change:.2g} (relative) when {name} is {verb} by 2 with the "
                "others refitted: the fit is not at an optimum"
            )
        return (
            f"the loss changes by {change:+.2g} (relative) when {name} is {verb} by 2 with "
            f"the others refitted (less than {FLAT_LOSS:g})"
        )
    return None


def summary(kind: str, status: str, reason: str) -> str:
    """One line naming a non-ok fit: "<kind>: <status> (<reason>)"."""
    return f"{kind}: {status} ({reason})"
