"""The report's summary: headline numbers of every fit and the status of each, as text lines
(printed by `rlscale analyze` and listed at the top of the index page)."""

from __future__ import annotations

import math

import numpy as np

from rlscale.analysis import status
from rlscale.analysis.fits import FitResult
from rlscale.analysis.types import Analysis, P2Result


def fit_statuses(analysis: Analysis) -> list[tuple[str, str, str, float]]:
    """(which fit, status, reason, failed share of its bootstrap refits) of every fitted law."""
    found = []

    def add(which: str, state: str, reason: str, info: dict) -> None:
        failed = info.get("bootstrap", {}).get("failed_share", math.nan)
        found.append((which, state, reason, failed))

    for size in analysis.sizes:
        tag = f" [N={size.critic_params:.3g}]" if np.isfinite(size.critic_params) else ""
        for param, fit in size.hparams.items():
            add(f"{param}*(σ){tag}", fit.status, fit.status_reason, fit.info)
        for fit in size.data_fits.values():
            which = f"D_J(σ) J={fit.info['threshold']:.1f}{tag}"
            add(which, fit.status, fit.status_reason, fit.info)
    p2 = analysis.p2
    for env, result in p2.envs.items() if p2 else ():
        for fit in result.data_efficiency.values():
            which = f"P2 D(σ,N) {env} J={fit.info['threshold']:.1f}"
            add(which, fit.status, fit.status_reason, fit.info)
        if result.batch_size is not None:
            fit = result.batch_size
            add(f"P2 B*(σ,N) {env}", fit.status, fit.status_reason, fit.info)
    for which, fit in _pooled_fits(p2) if p2 else ():
        add(which, fit.status, fit.status_reason, fit.info)
    return found


def summary_lines(analysis: Analysis) -> list[str]:
    """Headline numbers for the terminal: B*/η* slopes, D_J at the top J, σ*(F), held-out errors;
    then a count of fit statuses and one line naming every fit that is not `ok`."""
    lines = [
        f"{env}: auto top J_max = {e['auto']['top']:g} (q{e['auto']['final_return_quantile']:g} "
        f"of {e['auto']['runs']} final returns = {e['auto']['quantile']:.4g}); thresholds "
        f"{e['values'][0]:.4g} … {e['values'][-1]:.4g} ({len(e['values'])})"
        for env, e in analysis.thresholds.items()
        if e["auto"]
    ]
    for size in analysis.sizes:
        tag = f"[N={size.critic_params:.3g}] " if np.isfinite(size.critic_params) else ""
        for param, fit in size.hparams.items():
            slopes = sorted({round(v, 4) for v in fit.slope.values()})
            lines.append(
                f"{tag}{param}*(σ) ∝ σ^{slopes if len(slopes) > 1 else slopes[0]} [{fit.status}]"
            )
        if size.data_fits:
            top = size.data_fits[max(size.data_fits)]
            p = top.params
            lines.append(
                f"{tag}D_J(σ) at J={top.info['threshold']:.1f}: D_min={p['D_min']:.3g}, "
                f"α={p['alpha']:.3g}, β={p['beta']:.3g} [{top.status}]"
            )
        if size.budget:
            b = size.budget
            lines.append(
                f"{tag}σ*(F) = {b['coefficient']:.3g}·F^{b['exponent']:.3f} "
                f"(fitted on {b['n_fit']} thresholds)"
            )
            for held in b["holdout"]:
                lines.append(
                    f"{tag}  held out J={held['threshold']:.1f}: predicted σ*="
                    f"{held['predicted']:.3g} vs {held['actual']:.3g} "
                    f"({100 * held['relative_error']:+.1f}%)"
                )
    p2 = analysis.p2
    for env, result in p2.envs.items() if p2 else ():
        if result.data_efficiency:
            top = result.data_efficiency[max(result.data_efficiency)]
            p = top.params
            lines.append(
                f"[P2 {env}] D(σ,N) at J={top.info['threshold']:.1f}: "
                f"D_min={p['D_min']:.3g}, a={p['a']:.3g}, α={p['alpha']:.3g}, "
                f"b={p['b']:.3g}, β={p['beta']:.3g} [{top.status}]"
            )
        if result.compute_optimal is not None:
            u, n = result.compute_optimal.utd_line, result.compute_optimal.params_line
            lines.append(
                f"[P2 {env}] σ*(F) = {u.coefficient:.3g}·F^{u.exponent:.3f}, "
                f"N*(F) = {n.coefficient:.3g}·F^{n.exponent:.3f}"
            )
    pooled_lines = _pooled_lines(p2) if p2 else []
    return lines + pooled_lines + _status_lines(fit_statuses(analysis))


def _status_lines(found: list[tuple[str, str, str, float]]) -> list[str]:
    if not found:
        return []
    counts = {s: sum(f[1] == s for f in found) for s in dict.fromkeys(f[1] for f in found)}
    lines = [
        "fit status: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + (" (non-ok fits are drawn dashed)" if set(counts) - {status.OK} else "")
    ]
    lines += [f"  not ok: {status.summary(w, s, r)}" for w, s, r, _ in found if s != status.OK]
    failed = [(w, share) for w, _, _, share in found if share > 0]
    if failed:
        lines.append(
            "bootstrap refits that failed: "
            + ", ".join(f"{w} {100 * share:.0f}%" for w, share in failed)
        )
    return lines


def _pooled_fits(result: P2Result) -> list[tuple[str, FitResult]]:
    """(which fit, the fit) of every pooled and shared-exponent fit of a P2 result."""
    pooled, shared = result.pooled, result.shared_exponent
    if pooled is None or shared is None:
        return []
    found = {
        "P2 pooled D(σ,N)": pooled.data_efficiency,
        "P2 pooled OLS": pooled.ols,
        "P2 shared-exponent D(σ,N)": shared.data_efficiency,
    }
    return [
        (f"{label} i={i}", fit) for label, entries in found.items() for i, fit in entries.items()
    ]


def _pooled_lines(result: P2Result) -> list[str]:
    """The pooled and shared-exponent D(σ, N) of a P2 result at their highest fitted index."""
    pooled, shared = result.pooled, result.shared_exponent
    if pooled is None or shared is None:
        return []
    lines = []
    if pooled.data_efficiency:
        index = max(pooled.data_efficiency)
        top = pooled.data_efficiency[index]
        p = top.params
        lines.append(
            f"[P2 pooled, {len(pooled.tasks)} tasks] D(σ,N) at threshold "
            f"{index}: D_min={p['D_min']:.3g}, a={p['a']:.3g}, α={p['alpha']:.3g}, "
            f"b={p['b']:.3g}, β={p['beta']:.3g} [{top.status}]"
        )
    if shared.data_efficiency:
        index = max(shared.data_efficiency)
        top = shared.data_efficiency[index]
        lines.append(
            f"[P2 shared exponents] at threshold {index}: α={top.params['alpha']:.3g}, "
            f"β={top.params['beta']:.3g} [{top.status}]"
        )
    return lines
