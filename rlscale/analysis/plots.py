"""Figures of an `Analysis` (matplotlib, Agg backend): no fitting happens here.

Every function returns a list of (file stem, Figure, one-sentence caption); `report.py` saves them.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rlscale.analysis import frontier, status
from rlscale.analysis.types import Analysis, SizeResult

Plot = tuple[str, Figure, str]


def line_style(state: str) -> str:
    """Solid for an `ok` fit, dashed for any other status."""
    return "-" if state == status.OK else "--"


def status_tag(state: str) -> str:
    """ " [at_bound]" etc. for a label; nothing for an `ok` fit."""
    return "" if state == status.OK else f" [{state}]"


def _suffix(size: SizeResult) -> tuple[str, str]:
    if not np.isfinite(size.critic_params):
        return "", ""
    return f"_N{size.critic_params:.0f}", f" (N = {size.critic_params:.3g})"


def learning_curves(analysis: Analysis, samples: int = 100) -> list[Plot]:
    """Seed-mean return per config with a 95% seed-bootstrap band; one panel per (env, σ)."""
    curves = analysis.curves[: analysis.recipe.report.max_curves * 4]
    panels = sorted({(c.config["env"], c.config["utd"]) for c in curves})
    panels = panels[: analysis.recipe.report.max_curves]
    if not panels:
        return []
    columns = min(4, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (env, utd) in zip(axes.flat, panels, strict=False):
        for curve in curves:
            if (curve.config["env"], curve.config["utd"]) != (env, utd):
                continue
            n_seeds = curve.returns.shape[1]
            picks = rng.integers(0, n_seeds, (samples, n_seeds))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # steps where no seed logged
                boot = np.nanmean(curve.returns[:, picks], axis=2)
                mean = np.nanmean(curve.returns, axis=1)
                low, high = np.nanpercentile(boot, [2.5, 97.5], axis=1)
            c = curve.config
            label = f"B={c['batch_size']:g} η={c['learning_rate']:.2g} N={c['critic_params']:.2g}"
            (line,) = ax.plot(curve.steps, mean, lw=1, label=label)
            ax.fill_between(curve.steps, low, high, color=line.get_color(), alpha=0.2)
        for value in analysis.thresholds.get(env, {}).get("values", []):
            ax.axhline(value, color="grey", lw=0.3)
        ax.set(title=f"{env}, σ={utd:g}", xlabel="env steps", ylabel="return (0–1000)")
        ax.legend(fontsize=5)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return [
        (
            "learning_curves",
            fig,
            "Seed-mean normalised return of each config (bands: 95% "
            "seed-bootstrap interval; grey lines: thresholds J).",
        )
    ]


def data_efficiency(analysis: Analysis) -> list[Plot]:
    """D_J(σ) points (env-averaged, median-normalised, rescaled by m) and fitted curves per J."""
    plots = []
    for size in analysis.sizes:
        if not size.data_fits:
            continue
        fig, ax = plt.subplots(figsize=(6, 4.5))
        colors = plt.cm.viridis(np.linspace(0, 1, len(size.data_fits)))
        for color, fit in zip(colors, size.data_fits.values(), strict=True):
            m = fit.params["m"]
            ax.scatter(fit.info["utd"], m * np.asarray(fit.info["y"]), color=color, s=12)
            low, high = frontier.fitted_range(fit, size.utd_range)  # only where it was measured
            grid = np.logspace(np.log10(low), np.log10(high), 100)
            ax.plot(
                grid,
                frontier.data_curve(fit, grid),
                color=color,
                lw=1,
                ls=line_style(fit.status),
                label=f"J={fit.info['threshold']:.0f}: α={fit.params['alpha']:.2f}, "
                f"D_min={fit.params['D_min']:.3g}{status_tag(fit.status)}",
            )
        ax.set(xscale="log", yscale="log", xlabel="UTD σ", ylabel="env steps to J")
        ax.legend(fontsize=6)
        fig.tight_layout()
        stem, text = _suffix(size)
        plots.append(
            (
                f"data_efficiency{stem}",
                fig,
                "Data to reach each threshold J against UTD "
                f"σ, with the fit D_J(σ) = D_min + (β/σ)^α{text}, drawn over the σ values it "
                "was fitted on; dashed: the fit is not ok (at_bound or unidentified).",
            )
        )
    return plots


def hyperparameters(analysis: Analysis) -> list[Plot]:
    """Bootstrap-mean best B and η per (env, σ) with the shared-slope log-log fits."""
    plots = []
    for size in analysis.sizes:
        if not size.hparams:
            continue
        fig, axes = plt.subplots(
            1, len(size.hparams), figsize=(5 * len(size.hparams), 4), squeeze=False
        )
        for ax, (param, fit) in zip(axes.flat, size.hparams.items(), strict=True):
            table = analysis.tables[f"best_{param}"]
            table = table[_same_size(table, size)]
            for env, rows in table.groupby("env"):
                points = ax.scatter(rows["utd"], rows[f"best_{param}_bootstrap_mean"], s=14)
                grid = np.logspace(np.log10(rows["utd"].min()), np.log10(rows["utd"].max()), 50)
                ax.plot(
                    grid,
                    fit.predict(env, grid),
                    color=points.get_facecolor()[0],
                    ls=line_style(fit.status),
                    label=f"{env}: slope {fit.slope[env]:.3f}{status_tag(fit.status)}",
                )
            values = table[f"best_{param}_bootstrap_mean"]
            # limits before the log scale: a constant best value would make autoscaling singular
            ax.set_ylim(values.min() / 1.5, values.max() * 1.5)
            ax.set(xscale="log", yscale="log", xlabel="UTD σ", ylabel=f"best {param}")
            ax.legend(fontsize=6)
        fig.tight_layout()
        stem, text = _suffix(size)
        plots.append(
            (
                f"hyperparameters{stem}",
                fig,
                "Bootstrap-averaged best batch size and "
                "learning rate per σ with log-log fits sharing one slope across "
                f"envs{text} (dashed: the fit is not ok).",
            )
        )
    return plots


def _same_size(table: pd.DataFrame, size: SizeResult) -> pd.Series:
    if np.isfinite(size.critic_params):
        return table["critic_params"] == size.critic_params
    return table["critic_params"].isna()


def _frontier_panel(
    ax, curves: pd.DataFrame, best: pd.DataFrame, points, states: dict[int, str]
) -> None:
    """Fitted (C, D) curve per threshold (dashed if its fit is not ok), its budget optimum and the
    observed Pareto configs."""
    for index, rows in curves.groupby("threshold_index"):
        style = line_style(states.get(int(index), status.OK))
        ax.plot(rows["compute"], rows["data"], lw=1, color="tab:blue", alpha=0.6, ls=style)
    ax.scatter(
        best["compute"],
        best["data"],
        color="tab:red",
        zorder=3,
        s=14,
        label="budget-optimal (C + δD)",
    )
    if points is not None:
        ax.scatter(
            points["compute"],
            points["data"],
            color="grey",
            s=8,
            label="observed Pareto-optimal configs",
        )
    ax.set(xscale="log", yscale="log", xlabel="compute C (FLOPs)", ylabel="data D (steps)")
    ax.legend(fontsize=7)


def _sigma_panel(ax, best: pd.DataFrame, line: dict) -> None:
    """Budget-optimal σ* against F, the fitted line, held-out thresholds marked."""
    fitted = len(best) - len(line["holdout"])
    budget, utd = best["budget"].to_numpy(), best["utd"].to_numpy()
    ax.scatter(budget[:fitted], utd[:fitted], label="fitted thresholds")
    ax.scatter(budget[fitted:], utd[fitted:], marker="x", color="tab:red", label="held out")
    ax.plot(
        budget,
        line["coefficient"] * budget ** line["exponent"],
        color="black",
        label=f"σ* = {line['coefficient']:.3g}·F^{line['exponent']:.2f}",
    )
    ax.set_ylim(utd.min() / 1.5, utd.max() * 1.5)  # before the log scale: σ* may be constant
    ax.set(xscale="log", yscale="log", xlabel="budget F = C + δD", ylabel="σ*")
    ax.legend(fontsize=7)


def compute_frontier(analysis: Analysis) -> list[Plot]:
    """Fitted (C_J(σ), D_J(σ)) curves per J, budget-optimal points and σ*(F)."""
    plots = []
    curves, optima = analysis.tables.get("frontier"), analysis.tables.get("budget_optima")
    points = analysis.tables.get("frontier_points")
    for size in analysis.sizes:
        if size.budget is None or curves is None:
            continue
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
        best = optima[_same_size(optima, size)]
        mine = points[_same_size(points, size)] if points is not None else None
        states = {i: fit.status for i, fit in size.data_fits.items()}
        _frontier_panel(left, curves[_same_size(curves, size)], best, mine, states)
        _sigma_panel(right, best, size.budget)
        fig.tight_layout()
        stem, text = _suffix(size)
        caption = (
            "Left: data–compute frontier of each threshold over the σ its fit was made on "
            "(dashed: the fit is not ok), with its budget-optimal point; "
            f"right: budget-optimal σ* against budget, top thresholds held out{text}."
        )
        plots.append((f"frontier{stem}", fig, caption))
    return plots


def iqm_summary(analysis: Analysis) -> list[Plot]:
    """Cross-env IQM of the final return per σ with stratified-bootstrap CIs."""
    table = analysis.tables.get("iqm_final_return")
    if table is None or table.empty:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    for params, rows in table.groupby("critic_params", dropna=False):
        label = f"N={params:.3g}" if np.isfinite(params) else "all"
        ax.errorbar(
            rows["utd"],
            rows["iqm"],
            yerr=[rows["iqm"] - rows["ci_low"], rows["ci_high"] - rows["iqm"]],
            marker="o",
            capsize=3,
            label=label,
        )
    ax.set(xscale="log", xlabel="UTD σ", ylabel="IQM final return (0–1000)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return [
        (
            "iqm",
            fig,
            "Interquartile mean over envs and seeds of the final normalised return "
            "of each σ's best config, with 95% stratified-bootstrap intervals (rliable).",
        )
    ]
