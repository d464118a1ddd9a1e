"""P2 laws in UTD σ and critic size N (Fu et al. 2025 §3; model_scaling `scripts/core/fitting.py`).

D_J(σ, N) = D_min·(1 + (a/σ)^α + (b/N)^β)       (`sum_of_powerlaw_fn`)
B*(σ, N)  = a / (σ^α·(1 + (b/N)^c))               (`inverse_power_product_fn`)

Both are fitted as the authors do: every parameter through a softplus, σ and N log-rescaled to
[0.5, 2], y divided by its mean, L-BFGS-B from all-zero raw parameters, loss mean(|log f - log y|²)
(or linear MSE). The fitted parameters are mapped back to physical units: these forms are closed
under the rescaling, so the physical-unit curve is the fitted curve.

The softplus keeps every parameter > 0 (D_min ≥ 0 included). `fit_law` adds the status of
`status.assess` and bootstrap intervals whose refits start from zeros, as the point fit does: a
warm start at the point estimate would keep a degenerate optimum in every refit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from rlscale.analysis import p2_solver, status
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.fits import FitResult
from rlscale.analysis.threads import one_blas_thread


def sum_of_powerlaw(utd, params, a, alpha, b, beta, d_min):
    """D(σ, N) = D_min·(1 + (a/σ)^α + (b/N)^β)."""
    return d_min * (1.0 + (a / utd) ** alpha + (b / params) ** beta)


def inverse_power_product(utd, params, a, b, c, alpha):
    """B*(σ, N) = a / (σ^α·(1 + (b/N)^c)): power-law decay in σ, saturating growth in N."""
    return a / (utd**alpha * (1.0 + (b / params) ** c))


FORMS = {
    "sum_of_powerlaw": (
        sum_of_powerlaw,
        ("a", "alpha", "b", "beta", "D_min"),
        "D(σ,N) = D_min·(1 + (a/σ)^alpha + (b/N)^beta)",
    ),
    "inverse_power_product": (
        inverse_power_product,
        ("a", "b", "c", "alpha"),
        "B*(σ,N) = a / (σ^alpha·(1 + (b/N)^c))",
    ),
}


@dataclass(frozen=True)
class _Problem:
    """One form's rescaled data and loss; `solve` runs L-BFGS-B, optionally with one raw fixed."""

    form: str
    utd: np.ndarray  # rescaled σ
    params: np.ndarray  # rescaled N
    y: np.ndarray  # y / scale
    log_loss: bool
    scale: float
    utd_map: tuple[float, float]
    params_map: tuple[float, float]

    def loss(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            p = p2_solver.softplus(raw)
            fitted, jacobian = p2_solver.jacobian(self.form, self.utd, self.params, p)
            if self.log_loss:
                error = np.log(fitted) - np.log(self.y)
                jacobian = jacobian / fitted[:, None]
            else:
                error = fitted - self.y
            value = np.mean(error**2)
            # chain rule through the softplus: d softplus(r)/dr = sigmoid(r)
            grad = 2.0 * (error @ jacobian) / len(self.y) / (1.0 + np.exp(-raw))
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return 1e30, np.zeros_like(raw)
        return float(value), grad

    def solve(self, x0: np.ndarray, fixed: tuple[int, float] | None = None):
        return p2_solver.minimize_raw(self.loss, x0, fixed)

    def physical(self, raw: np.ndarray) -> dict[str, float]:
        """Physical-unit parameters of raw (pre-softplus) fitted ones."""
        p = p2_solver.softplus(np.asarray(raw, float))
        fitted = dict(zip(FORMS[self.form][1], p, strict=True))
        return p2_solver.to_physical(self.form, fitted, self.scale, self.utd_map, self.params_map)

    def refit_fixed(self, raw: np.ndarray, name: str, factor: float):
        """L-BFGS-B from `raw` with parameter `name` multiplied by `factor` and held there.

        a and b of D(σ, N) and b of B*(σ, N) are scales of the rescaled σ or N, so the physical
        factor f is f^p on the fitted value; the others are proportional to theirs (B*'s
        amplitude a only at fixed α: there the profile moves the rescaled amplitude).
        """
        index = FORMS[self.form][1].index(name)
        if name == "a" and self.form == "sum_of_powerlaw":
            factor = factor ** self.utd_map[1]
        elif name == "b":
            factor = factor ** self.params_map[1]
        fixed = float(p2_solver.softplus(raw[index])) * factor
        return self.solve(raw, (index, p2_solver.softplus_inverse(fixed)))


def _problem(form: str, utd, params, y, log_loss: bool) -> _Problem:
    utd, params, y = (np.asarray(v, float) for v in (utd, params, y))
    if np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise AnalysisError(f"{form}: targets must be finite and positive")
    utd_r, utd_low, utd_power = p2_solver.log_rescale(utd, "σ")
    params_r, params_low, params_power = p2_solver.log_rescale(params, "N")
    scale = float(np.mean(y))
    return _Problem(
        form,
        utd_r,
        params_r,
        y / scale,
        log_loss,
        scale,
        (utd_low, utd_power),
        (params_low, params_power),
    )


def fit_p2(
    form: str,
    utd: np.ndarray,
    params: np.ndarray,
    y: np.ndarray,
    log_loss: bool = True,
    start: np.ndarray | None = None,
) -> FitResult:
    """Fit one P2 form the authors' way and return physical-unit parameters (no status).

    Args:
        form: "sum_of_powerlaw" (D_J) or "inverse_power_product" (B*).
        utd, params, y: σ, N and targets, shape (n,) each; y > 0.
        log_loss: mean squared log error (True, the per-env fits) or linear MSE on y/mean(y).
        start: raw (pre-softplus) parameters to start from; None = zeros, as the authors do.

    Returns:
        FitResult with the form's parameters; info["raw"] holds the raw optimum.
    """
    _, names, text = FORMS[form]
    problem = _problem(form, utd, params, y, log_loss)
    x0 = np.zeros(len(names)) if start is None else np.asarray(start, float)
    result = problem.solve(x0)
    physical = problem.physical(result.x)
    return FitResult(text, physical, loss=float(result.fun), info={"raw": result.x.tolist()})


def domains(form: str, utd, params, y) -> dict[str, status.Domain]:
    """The physical domain of each parameter of a form, against the tested σ, N and observed y."""
    utd_range = (float(np.min(utd)), float(np.max(utd)))
    params_range = (float(np.min(params)), float(np.max(params)))
    if form == "sum_of_powerlaw":
        return {
            "D_min": status.floor(float(np.min(y)), "D (env steps)"),
            "a": status.scale(*utd_range, "σ"),
            "alpha": status.exponent(),
            "b": status.scale(*params_range, "N"),
            "beta": status.exponent(),
        }
    return {
        "a": status.positive(),
        "b": status.scale(*params_range, "N"),
        "c": status.exponent(),
        "alpha": status.exponent(),
    }


def fit_law(
    form: str,
    utd: np.ndarray,
    params: np.ndarray,
    y: np.ndarray,
    log_loss: bool = True,
    samples: Iterable[tuple[Any, tuple]] | None = None,
    ci: float = 0.95,
) -> FitResult:
    """`fit_p2` plus bootstrap intervals and the fit's status.

    Args:
        form, utd, params, y, log_loss: as `fit_p2`.
        samples: (sample id, (σ, N, y)) per bootstrap sample; None or none: no intervals. Each
            refit starts from zeros, like the point fit; one that raises counts as failed.
        ci: the intervals' level.

    Returns:
        FitResult with ci, draws, info["bootstrap"] (failed share), status and status_reason.
    """
    fit = fit_p2(form, utd, params, y, log_loss)
    problem = _problem(form, utd, params, y, log_loss)
    raw = np.asarray(fit.info["raw"])

    def refit(name: str, factor: float) -> float:
        return float(problem.refit_fixed(raw, name, factor).fun)

    def one(data: tuple) -> dict:
        return fit_p2(form, *data, log_loss=log_loss).params

    boot = status.bootstrap_refits(samples, one, ci)
    points = len({(float(u), float(n)) for u, n in zip(utd, params, strict=True)})
    verdict = status.assess(
        fit.params, domains(form, utd, params, y), points, fit.loss, refit, boot.intervals, ci
    )
    intervals, info = boot.intervals or {}, fit.info | boot.info
    return FitResult(fit.form, fit.params, intervals, fit.loss, info, boot.draws, *verdict)


def predict(form: str, fit: FitResult, utd: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Evaluate a fitted P2 form at (σ, N)."""
    function, names, _ = FORMS[form]
    return function(
        np.asarray(utd, float), np.asarray(params, float), *(fit.params[n] for n in names)
    )


def compute_optimal(
    data_fit: FitResult,
    batch,
    delta: float,
    flops_per_param_sample: float,
    box: tuple[tuple[float, float], tuple[float, float]],
) -> dict[str, float]:
    """argmin over (σ, N) of F = C + δ·D with C = k·N·B·σ·D (P2 §3.3 `compute_optimal_budget`).

    Args:
        data_fit: D_J(σ, N) sum-of-power-law fit.
        batch: B used in the compute, a number (the authors hard-code 256) or a callable
            (σ, N) -> B*(σ, N).
        delta: cost of one env step in FLOPs (δ). flops_per_param_sample: k (10 in the papers).
        box: ((σ_low, σ_high), (N_low, N_high)) search bounds.

    Returns:
        {utd, critic_params, data, compute, budget} at the optimum.
    """

    def cost(log_point: np.ndarray) -> tuple[float, float, float]:
        utd, params = np.exp(log_point)
        data = float(predict("sum_of_powerlaw", data_fit, utd, params))
        size = batch(utd, params) if callable(batch) else batch
        compute = flops_per_param_sample * params * float(size) * utd * data
        return compute + delta * data, data, compute

    bounds = [tuple(np.log(b)) for b in box]
    starts = [np.mean(b) for b in bounds]
    with one_blas_thread():
        result = optimize.minimize(
            lambda p: np.log(cost(p)[0]),
            starts,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-12, "gtol": 1e-12},
        )
    budget, data, compute = cost(result.x)
    utd, params = np.exp(result.x)
    return {
        "utd": float(utd),
        "critic_params": float(params),
        "data": data,
        "compute": compute,
        "budget": budget,
    }
