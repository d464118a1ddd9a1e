"""Figures of the P2 (σ x N) fits of an `Analysis` (Fu et al. 2025): no fitting happens here."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from rlscale.analysis import p2
from rlscale.analysis.pipeline import Analysis
from rlscale.analysis.plots import Plot, line_style, status_tag


def p2_fits(analysis: Analysis) -> list[Plot]:
    """Per env: D_J(σ, N) at the highest fitted threshold against N, one line per σ."""
    table = analysis.tables.get("p2_data_efficiency")
    if table is None:
        return []
    plots = []
    for env, rows in table.groupby("env"):
        top = rows[rows["threshold_index"] == rows["threshold_index"].max()]
        fit = analysis.p2["envs"][env]["data_efficiency"][int(top["threshold_index"].iloc[0])]
        params = {k: v["value"] for k, v in fit["params"].items()}
        grid = np.logspace(
            np.log10(top["critic_params"].min()), np.log10(top["critic_params"].max()), 50
        )
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for utd, group in top.groupby("utd"):
            points = ax.scatter(group["critic_params"], group["time"], s=14)
            ax.plot(
                grid,
                p2.sum_of_powerlaw(utd, grid, **_renamed(params)),
                color=points.get_facecolor()[0],
                ls=line_style(fit["status"]),
                label=f"σ={utd:g}",
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="critic parameters N",
            ylabel="env steps to J",
            title=f"{env}, J={top['threshold'].iloc[0]:.1f}{status_tag(fit['status'])}",
        )
        ax.legend(fontsize=7)
        fig.tight_layout()
        plots.append(
            (
                f"p2_data_efficiency_{env}",
                fig,
                "Data to reach the highest threshold "
                "against critic size for each σ, with D = D_min(1 + (a/σ)^α + (b/N)^β) "
                "inside the tested N range (dashed: the fit is not ok).",
            )
        )
    return plots


def _renamed(params: dict) -> dict:
    return {
        "a": params["a"],
        "alpha": params["alpha"],
        "b": params["b"],
        "beta": params["beta"],
        "d_min": params["D_min"],
    }
