"""The results of the analysis: frozen values that the stages return and `pipeline.run` assembles.

A stage is a function (inputs, recipe) -> `Staged` result: its value, the report tables it made
and what it could not compute. Only `pipeline.run` combines them into an `Analysis`, and only
`report` turns one into JSON, tables and figures. The laws' own results, `fits.FitResult` and
`hparams.HparamFit`, stay beside the laws that fit them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from rlscale.analysis.fits import FitResult
from rlscale.analysis.frontier import ComputeModel
from rlscale.analysis.hparams import HparamFit
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.threshold import Curve

T = TypeVar("T")
Tables = tuple[tuple[str, pd.DataFrame], ...]  # (report table name, rows); a name may repeat


@dataclass(frozen=True)
class Staged(Generic[T]):
    """One stage's value, its report tables and its "stage: why" messages, in the order made."""

    result: T
    tables: Tables = ()
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """The runs after selection, normalisation and threshold resolution (`stages.prepare`).

    `tidy` is None when a step failed (its message says which); what came before it is kept, so
    the report still shows the selection and the curves.
    """

    recipe: Recipe  # with every env's thresholds resolved, once `tidy` is set
    meta: dict[str, Any] = field(default_factory=dict)  # select, agent, envs, utds
    curves: tuple[Curve, ...] = ()
    thresholds: dict[str, dict] = field(default_factory=dict)  # env -> values and rule
    tidy: pd.DataFrame | None = None


@dataclass(frozen=True)
class SizeResult:
    """P1 results for one critic size N (NaN when unknown)."""

    critic_params: float
    hparams: dict[str, HparamFit] = field(default_factory=dict)
    hparam_ci: dict[str, dict] = field(default_factory=dict)
    data_fits: dict[int, FitResult] = field(default_factory=dict)
    compute: ComputeModel | None = None
    utd_range: tuple[float, float] = (np.nan, np.nan)
    budget: dict | None = None  # `frontier.budget_line` with its bootstrap "ci"


@dataclass(frozen=True)
class PowerLine:
    """log10 y* = exponent·log10 F* + log10 coefficient, and the held-out thresholds' errors."""

    coefficient: float
    exponent: float
    holdout_relative_error: tuple[float, ...]


@dataclass(frozen=True)
class ComputeOptimal:
    """σ*(F) and N*(F) through the compute-optimal (σ*, N*) of each threshold's budget."""

    batch_size: float | str  # the recipe's p2.compute_batch_size: a number or "fitted"
    box: tuple[tuple[float, float], tuple[float, float]]  # the (σ, N) search bounds
    utd_line: PowerLine
    params_line: PowerLine


@dataclass(frozen=True)
class P2Env:
    """One env's P2 fits; a fit that could not be made is missing (its message says why)."""

    data_efficiency: dict[int, FitResult] = field(default_factory=dict)  # threshold index ->
    batch_size: FitResult | None = None
    compute_optimal: ComputeOptimal | None = None


@dataclass(frozen=True)
class Pooled:
    """The median-normalised pool of every task (`pooled.run`) and its fits per threshold index."""

    pool: str
    threshold: str  # the recipe's p2.threshold: "last" or "all"
    tasks: tuple[str, ...]
    task_medians: dict[str, float]
    median: float
    thresholds: dict[int, dict[str, float]]  # index -> env -> J
    data_efficiency: dict[int, FitResult] = field(default_factory=dict)
    ols: dict[int, FitResult] = field(default_factory=dict)


@dataclass(frozen=True)
class SharedExponent:
    """D(σ, N) per env with α and β shared (`shared_exponent.fit`), per threshold index."""

    threshold: str
    data_efficiency: dict[int, FitResult] = field(default_factory=dict)


@dataclass(frozen=True)
class P2Result:
    """The σ x N analysis (Fu et al. 2025); `pooled` and `shared_exponent` only when pooling."""

    envs: dict[str, P2Env]
    width_to_params: tuple[tuple[float, float], ...]
    delta: float
    flops_per_param_sample: float
    pooled: Pooled | None = None
    shared_exponent: SharedExponent | None = None


@dataclass(frozen=True)
class Analysis:
    """Everything the report shows; `messages` says what could not be computed and why."""

    recipe: Recipe
    source: str = ""
    curves: tuple[Curve, ...] = ()
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sizes: tuple[SizeResult, ...] = ()
    p2: P2Result | None = None
    thresholds: dict[str, dict] = field(default_factory=dict)  # env -> resolved values and rule
    messages: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
