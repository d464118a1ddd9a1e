"""Figures of the P2 (σ x N) fits of an `Analysis` (Fu et al. 2025): no fitting happens here."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlscale.analysis import p2
from rlscale.analysis.fits import FitResult
from rlscale.analysis.plots import Plot, line_style, status_tag
from rlscale.analysis.types import Analysis


def p2_fits(analysis: Analysis) -> list[Plot]:
    """Per env: D_J(σ, N) at the highest fitted threshold against N, one line per σ."""
    table = analysis.tables.get("p2_data_efficiency")
    if table is None or analysis.p2 is None:
        return []
    plots = []
    for env, rows in table.groupby("env"):
        top = rows[rows["threshold_index"] == rows["threshold_index"].max()]
        fit = analysis.p2.envs[env].data_efficiency[int(top["threshold_index"].iloc[0])]
        title = f"{env}, J={top['threshold'].iloc[0]:.1f}{status_tag(fit.status)}"
        plots.append(
            (
                f"p2_data_efficiency_{env}",
                _data_figure(top, fit, title, "env steps to J"),
                "Data to reach the highest threshold "
                "against critic size for each σ, with D = D_min(1 + (a/σ)^α + (b/N)^β) "
                "inside the tested N range (dashed: the fit is not ok).",
            )
        )
    return plots


def p2_pooled(analysis: Analysis) -> list[Plot]:
    """The tasks pooled (median-normalised times) at the highest fitted threshold index."""
    pooled = analysis.p2.pooled if analysis.p2 else None
    table = analysis.tables.get("p2_pooled_time")
    if pooled is None or not pooled.data_efficiency or table is None:
        return []
    index = max(pooled.data_efficiency)
    fit = pooled.data_efficiency[index]
    rows = table[(table["threshold_index"] == index) & np.isfinite(table["time"])]
    title = f"{len(pooled.tasks)} tasks pooled, threshold {index}{status_tag(fit.status)}"
    figure = _data_figure(rows, fit, title, "median-normalised env steps to J", errors=True)
    caption = (
        "Median-normalised data to threshold of the tasks pooled (m · mean over tasks of "
        "D/m_task, bars: m · std over tasks) against critic size for each σ, with "
        "D = D_min(1 + (a/σ)^α + (b/N)^β) (dashed: the fit is not ok)."
    )
    return [("p2_pooled_data_efficiency", figure, caption)]


def _data_figure(
    rows: pd.DataFrame, fit: FitResult, title: str, ylabel: str, errors: bool = False
) -> plt.Figure:
    """Times against N, one colour per σ, and the fitted D(σ, N) inside the tested N range."""
    grid = np.logspace(
        np.log10(rows["critic_params"].min()), np.log10(rows["critic_params"].max()), 50
    )
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for utd, group in rows.groupby("utd"):
        points = ax.scatter(group["critic_params"], group["time"], s=14)
        colour = points.get_facecolor()[0]
        if errors:
            ax.errorbar(
                group["critic_params"], group["time"], group["time_std"], fmt="none", c=colour
            )
        ax.plot(
            grid,
            p2.sum_of_powerlaw(utd, grid, **_renamed(fit.params)),
            color=colour,
            ls=line_style(fit.status),
            label=f"σ={utd:g}",
        )
    ax.set(xscale="log", yscale="log", xlabel="critic parameters N", ylabel=ylabel, title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _renamed(params: dict) -> dict:
    return {
        "a": params["a"],
        "alpha": params["alpha"],
        "b": params["b"],
        "beta": params["beta"],
        "d_min": params["D_min"],
    }
