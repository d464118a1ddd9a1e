"""The held-out test of P1's protocol (`rlscale reproduce`): predict a σ outside the fit set, then
compare with runs made there.

P1 (§5.1) fits B*(σ) and η*(σ) on a grid search, makes "fitted" runs at the predicted (B*, η*) and
fits D_J(σ) = D_min + (β/σ)^α on those runs. Here the fitted runs at the grid's σ values are the
fit set; D_J at each held-out σ is extrapolated from them and compared with fitted runs made at
that σ. The constant-hyperparameter baseline (the grid-best (B, η) at one σ, reused at every σ,
as P1's `baseline_utd2`) is measured beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rlscale.analysis import fits, frontier, hparams, threshold
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.load import normalize_returns
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.types import Analysis

FITTED, BASELINE = "fitted", "baseline"


@dataclass(frozen=True)
class Config:
    """One configuration of the second phase (or a baseline config taken from the grid)."""

    role: str  # FITTED or BASELINE
    utd: float
    batch_size: int
    learning_rate: float

    def key(self) -> tuple[float, int, float]:
        return (float(self.utd), int(self.batch_size), float(self.learning_rate))


def _single(analysis: Analysis):
    envs = analysis.meta.get("envs", [])
    if len(envs) != 1 or len(analysis.sizes) != 1:
        raise AnalysisError(
            f"the held-out test takes one env and one critic size, got envs {envs} and "
            f"{len(analysis.sizes)} sizes"
        )
    return envs[0], analysis.sizes[0]


def fitted_configs(analysis: Analysis, utds: list[float], batch_multiple: int) -> list[Config]:
    """(B*, η*) predicted by the grid's fits at each σ; B rounded as P1 does, η to 3 digits."""
    env, size = _single(analysis)
    missing = [p for p in ("batch_size", "learning_rate") if p not in size.hparams]
    if missing:
        raise AnalysisError(f"no {' and no '.join(missing)}*(σ) fit on the grid: see the report")
    batch, rate = size.hparams["batch_size"], size.hparams["learning_rate"]
    return [
        Config(
            FITTED,
            float(u),
            int(hparams.round_batch(batch.predict(env, u), batch_multiple)),
            float(f"{float(rate.predict(env, u)):.3g}"),
        )
        for u in utds
    ]


def baseline_config(analysis: Analysis, utd: float, threshold_index: int) -> tuple[int, float]:
    """The grid's (B, η) with the least data to the selection threshold at σ = `utd`.

    Ties (e.g. several configs reaching J at the same eval) go to the smaller mean time over all
    thresholds, a never-reached threshold counting as the run's length.
    """
    table = analysis.tables.get("data_to_threshold")
    if table is None:
        raise AnalysisError("the grid has no data-to-threshold table")
    rows = table[np.isclose(table["utd"], utd)]
    if rows.empty:
        utds = analysis.meta["utds"]
        raise AnalysisError(f"baseline σ={utd} is not in the grid's σ values {utds}")
    if not np.isfinite(rows["time"]).any():
        raise AnalysisError(f"no grid config reached any threshold at baseline σ={utd}")
    index = int(threshold_index % (rows["threshold_index"].max() + 1))
    horizon = 2.0 * float(rows.loc[np.isfinite(rows["time"]), "time"].max())
    ranked = rows.assign(finite=rows["time"].where(np.isfinite(rows["time"]), horizon))
    at_index = ranked[ranked["threshold_index"] == index].groupby(["batch_size", "learning_rate"])
    mean = ranked.groupby(["batch_size", "learning_rate"])["finite"].mean()
    score = {k: (float(at_index.get_group(k)["finite"].iloc[0]), mean[k]) for k in mean.index}
    batch, rate = min(score, key=score.get)
    return int(batch), float(rate)


def crossings(tidy: pd.DataFrame, recipe: Recipe) -> pd.DataFrame:
    """Bootstrap crossing times of every config of a tidy frame (the pipeline's definition)."""
    normalised = normalize_returns(tidy, recipe.bounds())
    curves = threshold.make_curves(normalised, recipe.metric)
    boot = recipe.bootstrap
    return threshold.crossing_frame(
        curves, recipe.thresholds_for, boot.samples, boot.seed, recipe.reset_every_updates
    )


def _select(frame: pd.DataFrame, configs: list[Config]) -> pd.DataFrame:
    keys = {c.key() for c in configs}
    mask = [
        (float(u), int(b), float(lr)) in keys
        for u, b, lr in zip(frame["utd"], frame["batch_size"], frame["learning_rate"], strict=True)
    ]
    return frame[np.asarray(mask, bool)]


def _interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return (np.nan, np.nan)
    tail = 100.0 * (1.0 - ci) / 2.0
    return float(np.percentile(finite, tail)), float(np.percentile(finite, 100.0 - tail))


def measured(times: pd.DataFrame, ci: float) -> pd.DataFrame:
    """Per (σ, B, η, threshold): all-seeds time and the percentile CI of the bootstrap times."""
    rows = []
    keys = ["utd", "batch_size", "learning_rate", "threshold_index", "threshold"]
    for key, group in times.groupby(keys):
        point = group.loc[group["sample"] == threshold.POINT_ESTIMATE, "time"]
        boot = group.loc[group["sample"] != threshold.POINT_ESTIMATE, "time"].to_numpy(float)
        low, high = _interval(boot, ci)
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "time": float(point.iloc[0]),
                "ci_low": low,
                "ci_high": high,
                "reached_fraction": float(np.isfinite(boot).mean()) if len(boot) else np.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass
class HeldOutTest:
    """D_J(σ) fitted on the fit set; predicted vs measured at the held-out σ; the baseline."""

    data_fits: dict[int, fits.FitResult]
    points: pd.DataFrame  # measured D_J of every fitted and baseline config (column role)
    comparison: pd.DataFrame  # one row per held-out σ x threshold
    flops_per_sample: float | None


def run(
    fitted_times: pd.DataFrame,
    baseline_times: pd.DataFrame,
    configs: list[Config],
    fit_utds: list[float],
    recipe: Recipe,
    flops_per_sample: float | None = None,
) -> HeldOutTest:
    """Fit D_J(σ) on the fitted runs at `fit_utds`, extrapolate to the other fitted σ, compare.

    Args:
        fitted_times: crossings of the second phase's runs (fitted and held-out baseline configs).
        baseline_times: crossings of the grid (the baseline's configs at the fit-set σ are there).
        configs: every second-phase config, plus the baseline's configs at the fit-set σ.
        fit_utds: the σ values the D_J(σ) fit may use.
        recipe: thresholds, bootstrap and CI settings.
        flops_per_sample: measured FLOPs of one update per sample (for the compute of each point).
    """
    ci = recipe.bootstrap.ci
    ours = [c for c in configs if c.role == FITTED]
    base = [c for c in configs if c.role == BASELINE]
    fitted = _select(fitted_times, ours)
    baseline = pd.concat([_select(fitted_times, base), _select(baseline_times, base)])
    baseline = baseline.drop_duplicates(["utd", "threshold_index", "sample"])
    fit_set = fitted[fitted["utd"].isin(fit_utds)]
    point = fit_set[fit_set["sample"] == threshold.POINT_ESTIMATE]
    samples = fit_set[fit_set["sample"] != threshold.POINT_ESTIMATE]
    data_fits = fits.fit_data_efficiency(point, samples if len(samples) else None, ci)
    points = pd.concat(
        [measured(fitted, ci).assign(role=FITTED), measured(baseline, ci).assign(role=BASELINE)],
        ignore_index=True,
    )
    if flops_per_sample is not None:
        points["compute"] = flops_per_sample * points["batch_size"] * points["utd"] * points["time"]
    held = sorted({c.utd for c in ours} - set(fit_utds))
    rows = []
    for index, fit in data_fits.items():
        for utd in held:
            rows.append(_compare(fit, index, utd, points, ci))
    return HeldOutTest(data_fits, points, pd.DataFrame(rows), flops_per_sample)


def _compare(fit: fits.FitResult, index: int, utd: float, points: pd.DataFrame, ci: float) -> dict:
    predicted = float(frontier.data_curve(fit, utd))
    if fit.draws is not None and len(fit.draws):
        draws = [
            float(frontier.data_curve(fits.FitResult(fit.form, dict(row)), utd))
            for _, row in fit.draws.iterrows()
        ]
        low, high = _interval(np.asarray(draws), ci)
    else:
        low = high = np.nan
    at = points[np.isclose(points["utd"], utd) & (points["threshold_index"] == index)]
    ours = at[at["role"] == FITTED].iloc[0]
    base = at[at["role"] == BASELINE]
    baseline_time = float(base["time"].iloc[0]) if len(base) else np.nan
    return {
        "threshold_index": index,
        "threshold": fit.info["threshold"],
        "utd": utd,
        "predicted": predicted,
        "predicted_ci_low": low,
        "predicted_ci_high": high,
        "measured": ours["time"],
        "measured_ci_low": ours["ci_low"],
        "measured_ci_high": ours["ci_high"],
        "relative_error": predicted / ours["time"] - 1.0,
        "baseline_measured": baseline_time,
        "baseline_over_fitted": baseline_time / ours["time"],
    }
