"""D(σ, N) per env with the exponents shared: D_e = D_min,e·(1 + (a_e/σ)^α + (b_e/N)^β).

model_scaling's `fit_sum_of_powerlaw_shared_exponent`: α and β are one value for every env,
(a, b, D_min) one per env. The fit is the per-env fit's (`p2.fit_p2`, on `p2_solver`) with every
env in one loss: softplus parameters, L-BFGS-B from raw = 0, y divided by each env's mean,
squared-log (or linear) loss averaged over all points. σ and N are log-rescaled to [0.5, 2] over
all envs together: a per-env rescaling would map one rescaled exponent to a different physical one
in each env.
Parameters are named `alpha`, `beta` and `a[env]`, `b[env]`, `D_min[env]`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rlscale.analysis import p2_solver, status
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.fits import FitResult

FORM = "D_e(σ,N) = D_min,e·(1 + (a_e/σ)^alpha + (b_e/N)^beta), alpha and beta shared"
PER_ENV = ("a", "b", "D_min")


def name(param: str, env: str) -> str:
    """The key of one env's parameter in the fit's params ("a[h1-crawl-v0]")."""
    return f"{param}[{env}]"


@dataclass(frozen=True)
class _Problem:
    """Rescaled data of all envs; raw = [α, β, then (a, b, D_min) of each env in `envs` order]."""

    envs: tuple[str, ...]
    index: np.ndarray  # env position of each point
    utd: np.ndarray
    params: np.ndarray
    y: np.ndarray  # y / that env's mean
    scales: np.ndarray  # each env's mean y
    utd_map: tuple[float, float]
    params_map: tuple[float, float]
    log_loss: bool

    def names(self) -> list[str]:
        return ["alpha", "beta"] + [name(p, e) for e in self.envs for p in PER_ENV]

    def per_point(self, p: np.ndarray) -> np.ndarray:
        """(a, α, b, β, D_min) of every point, in `p2_solver.jacobian`'s order."""
        local = p[2:].reshape(len(self.envs), 3)[self.index]
        alpha, beta = np.full(len(self.y), p[0]), np.full(len(self.y), p[1])
        return np.stack([local[:, 0], alpha, local[:, 1], beta, local[:, 2]])

    def loss(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            p = np.logaddexp(0.0, raw)
            fitted, jacobian = p2_solver.jacobian(
                "sum_of_powerlaw", self.utd, self.params, self.per_point(p)
            )
            if self.log_loss:
                error = np.log(fitted) - np.log(self.y)
                jacobian = jacobian / fitted[:, None]
            else:
                error = fitted - self.y
            value = np.mean(error**2)
            point_grad = 2.0 * error[:, None] * jacobian / len(self.y)
            count = len(self.envs)
            local = [  # a, b, D_min of each env: the sum over that env's points
                np.bincount(self.index, point_grad[:, column], count) for column in (0, 2, 4)
            ]
            shared = [point_grad[:, 1].sum(), point_grad[:, 3].sum()]
            grad = np.r_[shared, np.stack(local, axis=1).ravel()]
            grad = grad / (1.0 + np.exp(-raw))  # through the softplus
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return 1e30, np.zeros_like(raw)
        return float(value), grad

    def solve(self, x0: np.ndarray, fixed: tuple[int, float] | None = None):
        return p2_solver.minimize_raw(self.loss, x0, fixed)

    def physical(self, raw: np.ndarray) -> dict[str, float]:
        p = np.logaddexp(0.0, np.asarray(raw, float))
        out: dict[str, float] = {}
        for i, env in enumerate(self.envs):
            a, b, d_min = p[2 + 3 * i : 5 + 3 * i]
            fitted = {"a": a, "alpha": p[0], "b": b, "beta": p[1], "D_min": d_min}
            one = p2_solver.to_physical(
                "sum_of_powerlaw", fitted, self.scales[i], self.utd_map, self.params_map
            )
            out["alpha"], out["beta"] = one["alpha"], one["beta"]
            out |= {name(k, env): float(one[k]) for k in PER_ENV}
        return {k: float(v) for k, v in out.items()}

    def refit_fixed(self, raw: np.ndarray, key: str, factor: float):
        """L-BFGS-B with parameter `key` multiplied by the physical `factor` and held there."""
        index = self.names().index(key)
        if key.startswith("a["):
            factor = factor ** self.utd_map[1]  # a physical factor f is f^p on the rescaled a
        elif key.startswith("b["):
            factor = factor ** self.params_map[1]
        held = float(np.logaddexp(0.0, raw[index])) * factor
        return self.solve(raw, (index, p2_solver.softplus_inverse(held)))


def _problem(frame: pd.DataFrame, log_loss: bool) -> _Problem:
    frame = frame[np.isfinite(frame["time"])]
    if frame.empty:
        raise AnalysisError("shared-exponent fit has no points")
    if np.any(frame["time"] <= 0):
        raise AnalysisError("shared-exponent fit: times must be positive")
    envs = tuple(sorted(set(frame["env"])))
    index = frame["env"].map({e: i for i, e in enumerate(envs)}).to_numpy()
    y = frame["time"].to_numpy(float)
    scales = np.array([y[index == i].mean() for i in range(len(envs))])
    utd, utd_low, utd_power = p2_solver.log_rescale(frame["utd"].to_numpy(float), "σ")
    params, params_low, params_power = p2_solver.log_rescale(
        frame["critic_params"].to_numpy(float), "N"
    )
    return _Problem(
        envs,
        index,
        utd,
        params,
        y / scales[index],
        scales,
        (utd_low, utd_power),
        (params_low, params_power),
        log_loss,
    )


def fit_point(frame: pd.DataFrame, log_loss: bool) -> tuple[_Problem, np.ndarray, float]:
    """(problem, raw optimum, loss) from raw = 0."""
    problem = _problem(frame, log_loss)
    result = problem.solve(np.zeros(len(problem.names())))
    return problem, result.x, float(result.fun)


def domains(frame: pd.DataFrame) -> dict[str, status.Domain]:
    """Each parameter's physical domain against that env's (or, for α and β, all) data."""
    out = {"alpha": status.exponent(), "beta": status.exponent()}
    for env, rows in frame[np.isfinite(frame["time"])].groupby("env"):
        utd, params = rows["utd"], rows["critic_params"]
        out[name("a", env)] = status.scale(utd.min(), utd.max(), f"σ of {env}", name("a", env))
        out[name("b", env)] = status.scale(
            params.min(), params.max(), f"N of {env}", name("b", env)
        )
        out[name("D_min", env)] = status.floor(rows["time"].min(), f"D of {env}")
    return out


def fit(
    frame: pd.DataFrame,
    log_loss: bool = True,
    samples: Iterable[tuple[Any, pd.DataFrame]] | None = None,
    ci: float = 0.95,
) -> FitResult:
    """The shared-exponent fit of one threshold, with bootstrap intervals and status.

    Args:
        frame: columns env, utd, critic_params, time (one row per env, σ, N; NaN = not reached).
        log_loss: squared-log loss (True) or linear MSE on y / each env's mean.
        samples: (sample id, frame of that sample) per bootstrap sample; None or none: no
            intervals. Each refit starts from raw = 0, as the point fit does.
        ci: the intervals' level.
    """
    problem, raw, loss = fit_point(frame, log_loss)
    params = problem.physical(raw)

    def one(data: pd.DataFrame) -> dict:
        sample_problem, sample_raw, _ = fit_point(data, log_loss)
        return sample_problem.physical(sample_raw)

    boot = status.bootstrap_refits(samples, one, ci)
    info = {"envs": list(problem.envs), "raw": raw.tolist(), **boot.info}

    def refit(key: str, factor: float) -> float:
        return float(problem.refit_fixed(raw, key, factor).fun)

    finite = frame[np.isfinite(frame["time"])]
    points = len(set(zip(finite["env"], finite["utd"], finite["critic_params"], strict=True)))
    verdict = status.assess(params, domains(frame), points, loss, refit, boot.intervals, ci)
    return FitResult(FORM, params, boot.intervals or {}, loss, info, boot.draws, *verdict)
