"""Best batch size B*(σ) and learning rate η*(σ) (P1 §2.5 and §4.5; qscaled `bootstrapping.py`,
`linear_fit.py`).

Per (env, σ) and per value of the *other* hyperparameter, each bootstrap sample picks the value with
the smallest data to threshold; the target is the arithmetic mean of those argmins (qscaled
`best_bs_bootstrap_lrmean` / `best_lr_bootstrap_bsmean`). B*(σ) and η*(σ) are then OLS lines in
log10–log10 space: log10 y = slope·log10 σ + intercept_env, with one slope shared by all envs.

Each line gets a `status` (`status.assess`): slope and intercepts may take any sign, so what
decides it is the number of distinct (env, σ) points against the parameters, and whether the
bootstrap refits gave an interval at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from rlscale.analysis import status
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.threshold import POINT_ESTIMATE

GROUP = ("env", "utd")
OTHER = {"batch_size": "learning_rate", "learning_rate": "batch_size"}
TABLE_COLUMNS = (  # column order of qscaled's grid_proposed_hparams/*_fitted.csv
    "Environment",
    "UTD",
    "Learning Rate",
    "Batch Size",
    "Learning Rate x√2",
    "Learning Rate x√0.5",
    "Batch Size x√2",
    "Batch Size x√0.5",
    "Batch Size(rounded)",
    "Batch Size x√2(rounded)",
    "Batch Size x√0.5(rounded)",
)


@dataclass(frozen=True)
class HparamFit:
    """log10 y*(σ) = slope[env]·log10 σ + intercept[env] (the layout of qscaled's `*_fit.npy`)."""

    name: str
    slope: dict[str, float]
    intercept: dict[str, float]
    info: dict = field(default_factory=dict)  # points, shared, bootstrap (failed share)
    status: str = "unassessed"  # status.OK, AT_BOUND or UNIDENTIFIED once `assess`ed
    status_reason: str = ""

    def predict(self, env: str, utd: np.ndarray | float) -> np.ndarray:
        """y*(σ) for one env."""
        return 10.0 ** (self.slope[env] * np.log10(utd) + self.intercept[env])

    def mean_over_envs(self, utd: np.ndarray | float) -> np.ndarray:
        """Env-mean of the fitted values (qscaled `get_fit_mean_batch_size`, used for compute)."""
        return np.mean([self.predict(env, utd) for env in self.slope], axis=0)

    def to_json(self, ci: dict[str, tuple[float, float]] | None = None) -> dict:
        """{form, slope: {env: {value, ci_low, ci_high}}, intercept: {...}}; CI keys "slope/env"."""
        ci = ci or {}

        def entry(kind: str, env: str, value: float) -> dict:
            low, high = ci.get(f"{kind}/{env}", (float("nan"), float("nan")))
            return {"value": value, "ci_low": low, "ci_high": high}

        return {
            "name": self.name,
            "form": "log10 y = slope*log10(utd) + intercept",
            "status": self.status,
            "status_reason": self.status_reason,
            "info": self.info,
            "slope": {e: entry("slope", e, v) for e, v in self.slope.items()},
            "intercept": {e: entry("intercept", e, v) for e, v in self.intercept.items()},
        }


def at_threshold(crossings: pd.DataFrame, threshold_index: int) -> pd.DataFrame:
    """Rows of one threshold per env; negative indices count from each env's highest threshold."""
    count = crossings.groupby("env")["threshold_index"].transform("max") + 1
    return crossings[crossings["threshold_index"] == (threshold_index % count)]


def bootstrap_best(
    crossings: pd.DataFrame, param: str, group: tuple[str, ...] = GROUP
) -> pd.DataFrame:
    """Argmin of `param` per (env, σ, value of the other hyperparameter, sample).

    Args:
        crossings: `threshold.crossing_frame` rows of a single threshold.
        param: "batch_size" or "learning_rate".
        group: the columns of one selection problem (P2 adds "critic_params").

    Returns:
        Columns `group`, <other hyperparameter>, sample, `param` (never-reached = +inf, so a
        config that reached J always beats one that did not).

    Raises:
        AnalysisError: no (env, σ) has two or more values of `param`, or no config reached J.
    """
    other = OTHER[param]
    if (crossings.groupby(list(group), dropna=False)[param].nunique() < 2).all():
        where = "(" + ", ".join("σ" if g == "utd" else g for g in group) + ")"
        raise AnalysisError(
            f"{param}: every {where} has a single value, so {param}* is not "
            "identifiable; sweep at least two values per σ"
        )
    reached = crossings[np.isfinite(crossings["time"])]
    if reached.empty:
        raise AnalysisError(f"{param}*: no config reached the selection threshold")
    # sorted, so that ties resolve to the smallest value as np.argmin over a sorted grid does
    reached = reached.sort_values(param)
    keys = [*group, other, "sample"]
    return reached.loc[reached.groupby(keys, dropna=False)["time"].idxmin(), [*keys, param]]


def per_sample_best(best: pd.DataFrame, param: str, group: tuple[str, ...] = GROUP) -> pd.DataFrame:
    """Per (group, sample): the argmin averaged over the other hyperparameter's values."""
    return best.groupby([*group, "sample"], as_index=False, dropna=False)[param].mean()


def best_table(best: pd.DataFrame, param: str, group: tuple[str, ...] = GROUP) -> pd.DataFrame:
    """Per (env, σ): the grid argmin, the bootstrap mean of argmins (the fit target) and its std.

    All (other value, sample) pairs weigh equally in the bootstrap mean, as in qscaled.
    """
    group = list(group)
    boot = best[best["sample"] != POINT_ESTIMATE]
    point = best[best["sample"] == POINT_ESTIMATE].groupby(group, dropna=False)[param].mean()
    spread = per_sample_best(boot, param, group).groupby(group, dropna=False)[param].std(ddof=0)
    return pd.DataFrame(
        {
            f"best_{param}_grid": point,
            f"best_{param}_bootstrap_mean": boot.groupby(group, dropna=False)[param].mean(),
            f"best_{param}_bootstrap_std": spread,
        }
    ).reset_index()


def fit_loglog(table: pd.DataFrame, column: str, shared: bool = True) -> HparamFit:
    """OLS of log10 `column` on log10 σ with per-env intercepts (qscaled `make_linear_fit_*`).

    Args:
        table: columns env, utd, `column`.
        column: the target, e.g. "best_batch_size_bootstrap_mean".
        shared: one slope for all envs (recommended), else one per env; the separate variant drops
            each env's largest σ, as qscaled's `make_linear_fit_separate_slope` does.

    Returns:
        HparamFit named after `column`.

    Raises:
        AnalysisError: fewer than 2 distinct σ values to fit.
    """
    data = table.dropna(subset=[column]).sort_values(["env", "utd"])
    data = data[data[column] > 0]
    if data["utd"].nunique() < 2:
        raise AnalysisError(f"{column}: fewer than 2 σ values; a σ power law needs at least 2")
    if not shared:
        return _fit_separate(data, column)
    envs = sorted(data["env"].unique())
    dummies = pd.get_dummies(data["env"]).reindex(columns=envs, fill_value=False).astype(float)
    features = np.column_stack([np.log10(data["utd"]), dummies.to_numpy()[:, 1:]])
    model = LinearRegression().fit(features, np.log10(data[column]))
    offsets = dict(zip(envs, [0.0, *model.coef_[1:]], strict=True))
    return HparamFit(
        column,
        {e: float(model.coef_[0]) for e in envs},
        {e: float(model.intercept_ + offsets[e]) for e in envs},
        {"points": _points(data), "shared": True},
    )


def _points(data: pd.DataFrame) -> int:
    return len(data[["env", "utd"]].drop_duplicates())


def _fit_separate(data: pd.DataFrame, column: str) -> HparamFit:
    slope, intercept, points = {}, {}, 0
    for env, rows in data.groupby("env"):
        rows = rows.iloc[:-1]  # qscaled: `values[:-1]`, the largest σ is held out
        points += _points(rows)
        if rows["utd"].nunique() < 2:
            raise AnalysisError(
                f"{column} ({env}): separate slopes need 3+ σ values (the largest "
                "is dropped, as in qscaled); use the shared slope"
            )
        fit = np.polyfit(np.log10(rows["utd"]), np.log10(rows[column]), 1)
        slope[env], intercept[env] = float(fit[0]), float(fit[1])
    return HparamFit(column, slope, intercept, {"points": points, "shared": False})


def bootstrap_draws(best: pd.DataFrame, param: str, shared: bool, ci: float) -> status.Refits:
    """Slopes and intercepts refitted on each bootstrap sample's argmins ("slope/env" columns).

    Each sample's argmin is a grid value rather than a mean, so these intervals are somewhat wider
    than the sampling spread of the bootstrap-mean target; they are meant as an honest upper bound.
    OLS has no start, so nothing of the point fit is reused; a sample with too few σ values fails.
    """

    def refit(table: pd.DataFrame) -> dict:
        fit = fit_loglog(table, param, shared)
        return {
            **{f"slope/{e}": v for e, v in fit.slope.items()},
            **{f"intercept/{e}": v for e, v in fit.intercept.items()},
        }

    samples = per_sample_best(best[best["sample"] != POINT_ESTIMATE], param)
    return status.bootstrap_refits(samples.groupby("sample"), refit, ci)


def assess(
    fit: HparamFit, refits: status.Refits, ci: float
) -> tuple[HparamFit, dict[str, tuple[float, float]]]:
    """The fit with its status, and its bootstrap intervals ("slope/env", "intercept/env").

    The parameters are one slope (or one per env when not shared) and one intercept per env,
    all free in sign: the status comes from the distinct (env, σ) points against them and from
    whether each has a bootstrap interval.
    """
    envs = list(fit.slope)
    slopes = envs[:1] if fit.info.get("shared", True) else envs
    domains = {f"slope/{e}": status.free() for e in slopes}
    domains |= {f"intercept/{e}": status.free() for e in envs}
    params = {f"slope/{e}": fit.slope[e] for e in envs} | {
        f"intercept/{e}": fit.intercept[e] for e in envs
    }
    verdict = status.assess(params, domains, fit.info["points"], ci=refits.intervals, level=ci)
    info = fit.info | refits.info
    assessed = replace(fit, info=info, status=verdict[0], status_reason=verdict[1])
    return assessed, refits.intervals or {}


def round_batch(batch: np.ndarray | float, multiple: int = 16) -> np.ndarray:
    """Truncate to int, round half-to-even to a multiple, at least `multiple` (as qscaled does)."""
    truncated = np.floor(np.asarray(batch, float))
    return np.maximum(multiple, np.round(truncated / multiple) * multiple)


def proposal_table(
    batch: HparamFit, learning_rate: HparamFit | None, utds: list[float], multiple: int = 16
) -> pd.DataFrame:
    """The proposed-hyperparameter table of qscaled `tabulate_proposed_hparams`.

    Args:
        batch: B*(σ) fit. learning_rate: η*(σ) fit, or None to leave out its columns.
        utds: σ values to tabulate. multiple: batch-size rounding multiple.

    Returns:
        One row per env x σ with the columns of `grid_proposed_hparams/*_fitted.csv`.
    """
    rows = []
    for env in batch.slope:
        for utd in utds:
            row = {"Environment": env, "UTD": float(utd)}
            b = float(batch.predict(env, utd))
            if learning_rate is not None:
                lr = float(learning_rate.predict(env, utd))
                row |= {
                    "Learning Rate": float(f"{lr:.3g}"),
                    "Learning Rate x√2": float(f"{lr * np.sqrt(2):.3g}"),
                    "Learning Rate x√0.5": float(f"{lr * np.sqrt(0.5):.3g}"),
                }
            scaled = {
                "Batch Size": b,
                "Batch Size x√2": b * np.sqrt(2),
                "Batch Size x√0.5": b * np.sqrt(0.5),
            }
            row |= {k: int(v) for k, v in scaled.items()}
            row |= {f"{k}(rounded)": int(round_batch(v, multiple)) for k, v in scaled.items()}
            rows.append(row)
    table = pd.DataFrame(rows)
    return table[[c for c in TABLE_COLUMNS if c in table.columns]]
