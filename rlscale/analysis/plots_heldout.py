"""Figure of the held-out test (`rlscale reproduce`): D_J(σ) and the data–compute plane."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlscale.analysis import frontier
from rlscale.analysis.heldout import BASELINE, FITTED, HeldOutTest
from rlscale.analysis.plots import Plot, line_style, status_tag


def _errorbars(ax, rows: pd.DataFrame, x: str, **style) -> None:
    low = (rows["time"] - rows["ci_low"]).clip(lower=0).fillna(0)
    high = (rows["ci_high"] - rows["time"]).clip(lower=0).fillna(0)
    ax.errorbar(rows[x], rows["time"], yerr=[low, high], ls="none", capsize=3, **style)


def held_out(test: HeldOutTest, fit_utds: list[float], threshold_index: int) -> list[Plot]:
    """Left: D_J(σ) at one threshold, fit set, extrapolated curve, prediction and measurement.
    Right: the same points in the data–compute plane (when FLOPs were recorded)."""
    index = sorted(test.data_fits)[threshold_index]
    fit = test.data_fits[index]
    points = test.points[test.points["threshold_index"] == index]
    ours, base = points[points["role"] == FITTED], points[points["role"] == BASELINE]
    row = test.comparison[test.comparison["threshold_index"] == index]
    panels = 2 if test.flops_per_sample is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    top = max(ours["utd"].max(), max(fit_utds))
    inside = np.logspace(np.log10(min(fit_utds)), np.log10(max(fit_utds)), 50)
    beyond = np.logspace(np.log10(max(fit_utds)), np.log10(top), 20)
    ax.plot(
        inside,
        frontier.data_curve(fit, inside),
        color="C0",
        ls=line_style(fit.status),  # dashed: the fit is not ok
        label=f"D_J(σ) fit on fit set{status_tag(fit.status)}",
    )
    ax.plot(beyond, frontier.data_curve(fit, beyond), color="C0", ls=":", label="extrapolation")
    in_fit = ours["utd"].isin(fit_utds)
    _errorbars(ax, ours[in_fit], "utd", marker="o", color="C0", label="fitted (B*, η*): fit set")
    _errorbars(ax, ours[~in_fit], "utd", marker="*", ms=12, color="C3", label="held out: measured")
    ax.scatter(
        row["utd"],
        row["predicted"],
        marker="*",
        s=160,
        facecolors="none",
        edgecolors="C3",
        zorder=5,
        label="held out: predicted",
    )
    _errorbars(ax, base, "utd", marker="s", color="0.5", label="constant (B, η) baseline")
    ax.set(
        xscale="log",
        xlabel="UTD σ",
        ylabel="env steps to J",
        title=f"J = {fit.info['threshold']:.0f}",
    )
    ax.legend(fontsize=7)
    if panels == 2:
        ax = axes[0, 1]
        for rows, style in (
            (ours, {"color": "C0", "marker": "o"}),
            (base, {"color": "0.5", "marker": "s"}),
        ):
            ax.plot(rows["compute"], rows["time"], **style, ls="-", lw=0.8)
            for _, r in rows.iterrows():
                ax.annotate(
                    f"σ={r['utd']:g}",
                    (r["compute"], r["time"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        held = ours[~in_fit]
        ax.scatter(held["compute"], held["time"], marker="*", s=160, color="C3", zorder=5)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="compute to J (FLOPs)",
            ylabel="env steps to J",
            title="data–compute plane (blue: fitted, grey: baseline)",
        )
    fig.tight_layout()
    return [
        (
            "held_out",
            fig,
            "Held-out test: D_J(σ) fitted on the fit set (dashed if the fit is not ok) and "
            "extrapolated (dotted), the "
            "held-out σ predicted (open star) and measured (filled star, 95% seed-bootstrap "
            "interval), the constant-hyperparameter baseline in grey.",
        )
    ]
