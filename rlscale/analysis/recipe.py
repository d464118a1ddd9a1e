"""Analysis recipe: thresholds, return normalisation and fit options, validated from YAML.

The defaults of `Recipe` are `analysis/default.yaml` (a test keeps them equal), so the package also
works where the YAML presets are not installed. Unknown keys are errors naming the file, the key and
the valid keys.
"""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from rlscale.analysis.errors import AnalysisError, RecipeError
from rlscale.analysis.load import METRIC_ALIASES

DEFAULT_RECIPE = Path(__file__).resolve().parents[2] / "analysis" / "default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """Performance thresholds J on the 0–1000 scale; set exactly one of the three fields.

    `linspace: [low, auto, count]` takes its top from the runs: J_max of the recipe's `top` rule
    (`top.py`), resolved per env by the pipeline before any threshold is used.
    """

    values: list[float] | None = None
    linspace: tuple[float, float | Literal["auto"], int] | None = None  # P2: np.linspace
    gap_logspace: tuple[float, float, int] | None = None  # P1: 1000 - logspace(1000-low, 1000-high)

    @model_validator(mode="after")
    def _exactly_one(self) -> Thresholds:
        given = [v for v in (self.values, self.linspace, self.gap_logspace) if v is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of values, linspace, gap_logspace")
        return self

    @property
    def uses_auto(self) -> bool:
        return self.linspace is not None and self.linspace[1] == "auto"

    @property
    def count(self) -> int:
        return (
            len(self.values) if self.values is not None else (self.linspace or self.gap_logspace)[2]
        )

    def with_top(self, top: float) -> Thresholds:
        """This `linspace: [low, auto, count]` with `auto` replaced by `top`."""
        low, _, count = self.linspace
        return Thresholds(linspace=(low, float(top), count))

    def resolve(self) -> np.ndarray:
        """The thresholds as an increasing float array."""
        if self.uses_auto:
            raise AnalysisError(
                "thresholds `linspace: [low, auto, count]` have no top yet: it is resolved from "
                "the runs by the pipeline (top.resolve)"
            )
        if self.values is not None:
            return np.sort(np.asarray(self.values, float))
        if self.linspace is not None:
            low, high, count = self.linspace
            return np.linspace(low, high, count)
        low, high, count = self.gap_logspace
        return 1000.0 - np.logspace(np.log10(1000.0 - low), np.log10(1000.0 - high), count)


class Top(_Strict):
    """The `auto` top threshold of each env (Fu et al. 2025, BRO-DMC): J_max =
    floor(factor · q(final isotonic return over the selected runs) / floor_to) · floor_to, with q
    the `final_return_quantile` (numpy's default linear interpolation)."""

    final_return_quantile: float = Field(0.2, ge=0.0, le=1.0)
    factor: float = Field(0.95, gt=0.0)
    floor_to: float = Field(10.0, gt=0.0)


class Select(_Strict):
    """Which runs the analysis uses, applied before anything else (`select.apply`).

    envs: keep only these envs (None: all). exclude_envs: drop these. where: a pandas query over
    run-level columns (`select.RUN_LEVEL`: utd, batch_size, learning_rate, critic_width,
    critic_params, variant, agent, seed, status, env) selecting whole runs.
    """

    envs: list[str] | None = None
    exclude_envs: list[str] = []
    where: str | None = None

    @field_validator("where")
    @classmethod
    def _parses(cls, where: str | None) -> str | None:
        """A syntax error is caught with the recipe, before any data is read."""
        if where is not None and not any(mark in where for mark in "`@"):
            try:
                ast.parse(where, mode="eval")
            except SyntaxError as error:
                raise ValueError(f"not a valid query expression: {error.msg}") from None
        return where


class Variables(_Strict):
    """exp_name -> run columns, for the long-CSV layout (`long_csv.py`): full-string regexes with
    named groups (numbers parsed; the first match counts), and a table that wins key by key."""

    patterns: list[str] = []
    table: dict[str, dict[str, float | str]] = {}

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                compiled = re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression: {error}") from None
            if not compiled.groupindex:
                raise ValueError(f"{pattern!r} has no named group (?P<column>...) to set")
        return patterns


class Bounds(_Strict):
    min: float  # raw return mapped to 0
    max: float  # raw return mapped to 1000


class Bootstrap(_Strict):
    samples: int = 100
    seed: int = 42
    ci: float = 0.95


class Hyperparameters(_Strict):
    slope: Literal["shared", "separate"] = "shared"
    threshold_index: int = -1
    batch_multiple: int = 16
    predict_utds: list[float] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]


class Compute(_Strict):
    source: Literal["auto", "flops", "formula"] = "auto"
    flops_per_param_sample: float = 10.0
    critic_params: float | None = None
    batch_size: Literal["fitted"] | float = "fitted"


class Budget(_Strict):
    delta: float = 4e9
    holdout_top_k: int = 2
    grid_points: int = 100


class P2(_Strict):
    """P2 (σ x N) laws. `pool: median_normalized` adds, beside the per-env fits, D(σ, N) fitted to
    the tasks' median-normalised times and the shared-exponent fit (`pooled.py`), at the last
    threshold index or at `all` of them."""

    enabled: Literal["auto"] | bool = "auto"
    loss: Literal["log", "linear"] = "log"
    compute_batch_size: Literal["fitted"] | float = 256.0
    holdout_top_k: int = 5
    pool: Literal["per_env", "median_normalized"] = "per_env"
    threshold: Literal["last", "all"] = "last"


class Report(_Strict):
    format: Literal["html", "markdown"] = "html"
    max_curves: int = 24
    iqm_bootstrap_samples: int = 2000


class Reproduce(_Strict):
    """`rlscale reproduce`: what is held out of the grid, how the fitted runs are made (P1 §5.1)."""

    held_out_utds: list[float] = [8.0]  # σ predicted from the grid's σ values, then run
    baseline_utd: float = (
        2.0  # the grid-best (B, η) at this σ, reused at every σ (P1 baseline_utd2)
    )
    seeds: int = 8  # seeds of every fitted and baseline run
    max_relative_error: float = 0.15  # the held-out D_J prediction passes within this error


class Recipe(_Strict):
    """Everything `rlscale analyze` needs besides the runs themselves."""

    metric: str = "eval/return"  # a published name (avg_return) means its rlscale name
    agent: str = "sac"
    variables: Variables = Variables()
    select: Select = Select()
    normalize: dict[str, Bounds] = {"jax:pendulum": Bounds(min=-1500.0, max=0.0)}
    thresholds: Thresholds = Thresholds(gap_logspace=(300.0, 800.0, 10))
    env_thresholds: dict[str, Thresholds] = {}
    top: Top = Top()
    critic_params_by_width: dict[float, float] = {}
    reset_every_updates: float | None = None
    bootstrap: Bootstrap = Bootstrap()
    hyperparameters: Hyperparameters = Hyperparameters()
    compute: Compute = Compute()
    budget: Budget = Budget()
    p2: P2 = P2()
    report: Report = Report()
    reproduce: Reproduce = Reproduce()
    _path: str | None = PrivateAttr(default=None)  # the YAML file it was read from, if any

    @field_validator("metric")
    @classmethod
    def _rlscale_name(cls, metric: str) -> str:
        return METRIC_ALIASES.get(metric, metric)

    def __eq__(self, other: object) -> bool:
        """Equal settings (where a recipe was read from does not count)."""
        return type(other) is type(self) and self.__dict__ == other.__dict__

    __hash__ = None  # dict-valued fields: not hashable anyway

    @property
    def source(self) -> str:
        """The recipe's file for error messages ("the recipe" when built in code)."""
        return self._path or "the recipe"

    def thresholds_for(self, env: str) -> np.ndarray:
        """Thresholds J of one env (its override, else the shared list)."""
        return self.threshold_spec(env).resolve()

    def threshold_spec(self, env: str) -> Thresholds:
        """The thresholds entry of one env (its override, else the shared one), unresolved."""
        return self.env_thresholds.get(env, self.thresholds)

    def with_tops(self, tops: dict[str, float]) -> Recipe:
        """A copy whose `auto` thresholds of the envs in `tops` are linspaces up to that top."""
        resolved = dict(self.env_thresholds)
        for env, top in tops.items():
            resolved[env] = self.threshold_spec(env).with_top(top)
        return self.model_copy(update={"env_thresholds": resolved})

    def bounds(self) -> dict[str, tuple[float, float]]:
        return {env: (b.min, b.max) for env, b in self.normalize.items()}


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Read and validate a recipe YAML (None: `analysis/default.yaml`, else the built-in defaults).

    Raises:
        RecipeError: with "file: key: problem; valid keys: [...]" for every invalid entry, or
            naming the file when there is none.
    """
    if path is None:
        if not DEFAULT_RECIPE.exists():
            return Recipe()
        path = DEFAULT_RECIPE
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"no recipe file at {path}")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise RecipeError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(content, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of keys, got {type(content).__name__}")
    try:
        recipe = Recipe.model_validate(content)
    except ValidationError as error:
        raise RecipeError("\n".join(_explain(path, e) for e in error.errors())) from None
    recipe._path = str(path)
    return recipe


def _explain(path: Path, error: dict) -> str:
    location = [str(part) for part in error["loc"]]
    key = ".".join(location) or "(top level)"
    if error["type"] == "extra_forbidden":
        model = _model_at(location[:-1])
        parent = ".".join(location[:-1]) or "the top level"
        return f"{path}: unknown key {key!r}; valid keys at {parent}: {sorted(model.model_fields)}"
    return f"{path}: {key}: {error['msg']}"


def _model_at(location: list[str]) -> type[BaseModel]:
    """The pydantic model describing the mapping at `location` (for listing its valid keys)."""
    current: object = Recipe
    for part in location:
        is_model = isinstance(current, type) and issubclass(current, BaseModel)
        if is_model and part in current.model_fields:
            current = current.model_fields[part].annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else Recipe
