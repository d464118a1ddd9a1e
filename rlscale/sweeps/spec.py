"""Sweep specs: a YAML file naming agent, env, budget, seeds and a grid, expanded into runs.

Every run's flat config goes through `rlscale.config.resolve`, with each key's source given as
`file:line` so an error points at the spec line that set it. The whole sweep is validated here,
before anything is written or compiled.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from pathlib import Path
from typing import Any

from rlscale.agents import registry
from rlscale.config import (
    LOOP_KEYS,
    ConfigError,
    Preset,
    apply_family,
    check_loggers,
    load_preset,
    load_yaml,
    node_lines,
    resolve,
)
from rlscale.training.group import RunSpec

SPEC_KEYS = (
    *("name", "agent", "env", "budget", "seeds", "grid", "zip", "overrides"),
    *("loggers", "deterministic"),
)
# Set once per sweep, never per run: deterministic GPU ops are a process-wide XLA flag.
SWEEP_LEVEL = ("agent", "seed", "deterministic")
BUDGET_KEYS = {
    "env_steps": "steps",
    "eval_every": "eval_every",
    "eval_episodes": "eval_episodes",
    "checkpoint_every": "checkpoint_every",
}
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the repo holding agents/ and envs/ presets


@dataclasses.dataclass(frozen=True)
class Sweep:
    name: str
    path: Path
    text: str  # the spec file as given (stored verbatim in the sweep dir)
    data: dict[str, Any]  # the parsed spec
    runs: tuple[RunSpec, ...]


class _Where:
    """`file:line (path)` for a dotted spec path, for error messages and `resolve` sources."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = node_lines(text, path)

    def __call__(self, dotted: str) -> str:
        line = self.lines.get(dotted) or self.lines.get(dotted.rsplit(".", 1)[0])
        return f"{self.path}:{line} ({dotted})" if line else f"{self.path} ({dotted})"


def _preset(kind: str, name: str, spec_path: Path) -> Path | None:
    """agents/<name>.yaml or envs/<name>.yaml: beside the spec's folder, in cwd, or in the repo."""
    candidates = [Path(name)] if name.endswith((".yaml", ".yml")) else []
    for root in (spec_path.resolve().parent.parent, Path.cwd(), PACKAGE_ROOT):
        candidates.append(root / kind / f"{name}.yaml")
    return next((path for path in candidates if path.is_file()), None)


def _mapping(value: Any, where: str, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: {what} must be a mapping, got {type(value).__name__} {value!r}"
        )
    return value


def _check_known(keys: Any, valid: Any, where: _Where, prefix: str) -> None:
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(str(key), list(valid), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(
                f"{where(prefix + str(key))}: unknown key {key!r}{hint}; "
                f"valid keys: {', '.join(sorted(valid))}"
            )


def _agent_base(spec: dict, where: _Where, path: Path) -> tuple[dict, dict[str, str], Preset]:
    """Flat keys (and their sources) from `agent:`: a preset file plus overrides, or a name; and
    the preset itself, whose family blocks apply per run once its env is known."""
    agent = spec.get("agent", "sac")
    if isinstance(agent, str):
        agent = {"preset": agent}
    agent = _mapping(agent, where("agent"), "agent")
    _check_known(agent, ("preset", "overrides"), where, "agent.")
    name = str(agent.get("preset", "sac"))
    preset = _preset("agents", name, path)
    if preset is not None:
        loaded = load_preset(preset)
    elif name in registry.AGENTS:
        loaded = Preset({"agent": name}, {"agent": where("agent")}, {})
    else:
        raise ConfigError(
            f"{where('agent')}: unknown agent {name!r}: no preset agents/{name}.yaml "
            f"and not one of {sorted(registry.AGENTS)}"
        )
    overrides = _mapping(agent.get("overrides"), where("agent.overrides"), "agent.overrides")
    flat = {**loaded.flat, **overrides}
    sources = {**loaded.sources, **{k: where(f"agent.overrides.{k}") for k in overrides}}
    return flat, sources, loaded


def _env_keys(spec: dict, where: _Where, path: Path) -> tuple[dict, dict[str, str]]:
    """`env:` is an env name (`family:name`) or the name of a preset file envs/<name>.yaml."""
    if "env" not in spec:
        return {}, {}
    env = spec["env"]
    if not isinstance(env, str):
        raise ConfigError(f"{where('env')}: env must be a name like jax:pendulum, got {env!r}")
    preset = None if ":" in env else _preset("envs", env, path)
    if preset is None:
        return {"env": env}, {"env": where("env")}
    flat = load_yaml(preset)
    lines = node_lines(preset.read_text(), preset)
    return flat, {k: f"{preset}:{lines[k]}" for k in flat}


def _budget_keys(spec: dict, where: _Where) -> tuple[dict, dict[str, str]]:
    budget = _mapping(spec.get("budget"), where("budget"), "budget")
    _check_known(budget, BUDGET_KEYS, where, "budget.")
    flat = {BUDGET_KEYS[k]: v for k, v in budget.items()}
    return flat, {BUDGET_KEYS[k]: where(f"budget.{k}") for k in budget}


def _seeds(spec: dict, where: _Where) -> list[int]:
    seeds = spec.get("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, int | list):
        raise ConfigError(
            f"{where('seeds')}: seeds must be a count or a list of ints, got {seeds!r}"
        )
    seeds = list(range(seeds)) if isinstance(seeds, int) else seeds
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if not seeds or bad or len(set(seeds)) < len(seeds):
        raise ConfigError(
            f"{where('seeds')}: seeds must be a positive count or a list of distinct "
            f"non-negative ints, got {spec.get('seeds')!r}"
        )
    return seeds


def _axes(spec: dict, block: str, valid: tuple, where: _Where) -> dict[str, list]:
    """A `grid:` or `zip:` block: key -> non-empty list of values (a scalar is a 1-value list)."""
    axes = _mapping(spec.get(block), where(block), block)
    _check_known(axes, valid, where, f"{block}.")
    out = {}
    for key, values in axes.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(
                f"{where(f'{block}.{key}')}: empty {block} for {key!r}: give at least one value"
            )
        out[key] = values
    lengths = {len(v) for v in out.values()}
    if block == "zip" and len(lengths) > 1:
        raise ConfigError(
            f"{where('zip')}: zip lists must have equal lengths, got "
            f"{ {k: len(v) for k, v in out.items()} }"
        )
    return out


def _entries(grid: dict[str, list], zipped: dict[str, list]) -> list[dict[str, Any]]:
    """The grid's cartesian product crossed with the zip's paired rows, in spec order."""
    grid_rows = [
        dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())
    ]
    zip_rows = [
        dict(zip(zipped, values, strict=True)) for values in zip(*zipped.values(), strict=True)
    ] or [{}]
    return [{**g, **z} for g in grid_rows for z in zip_rows]


def _overrides(spec: dict, valid: tuple, where: _Where) -> list[tuple[int, dict, dict]]:
    items = spec.get("overrides") or []
    if not isinstance(items, list):
        raise ConfigError(
            f"{where('overrides')}: overrides must be a list of {{when, set}} entries"
        )
    out = []
    for index, item in enumerate(items):
        item = _mapping(item, where(f"overrides.{index}"), f"overrides[{index}]")
        _check_known(item, ("when", "set"), where, f"overrides.{index}.")
        when = _mapping(item.get("when"), where(f"overrides.{index}.when"), "when")
        assign = _mapping(item.get("set"), where(f"overrides.{index}.set"), "set")
        _check_known(when, valid, where, f"overrides.{index}.when.")
        _check_known(assign, valid, where, f"overrides.{index}.set.")
        out.append((index, when, assign))
    return out


def load_sweep(path: str | Path, deterministic: bool | None = None) -> Sweep:
    """Parse, validate and expand a sweep spec; raises ConfigError naming the file and line.

    `deterministic` (the launcher's --deterministic) replaces the spec's `deterministic:` key;
    either is recorded in every run's config."""
    path = Path(path)
    data = load_yaml(path)
    text = path.read_text()
    where = _Where(path, text)
    _check_known(data, SPEC_KEYS, where, "")
    check_loggers(data.get("loggers", []), where("loggers"))  # not a run key: run ids stay
    base, sources, preset = _agent_base(data, where, path)
    for flat, more in (_env_keys(data, where, path), _budget_keys(data, where)):
        base.update(flat)
        sources.update(more)
    if deterministic is not None or "deterministic" in data:
        given = deterministic is not None
        base["deterministic"] = deterministic if given else data["deterministic"]
        sources["deterministic"] = "--deterministic" if given else where("deterministic")
    agent = base.get("agent", "sac")
    if agent not in registry.AGENTS:
        raise ConfigError(
            f"{sources.get('agent', where('agent'))}: unknown agent {agent!r}; "
            f"valid: {sorted(registry.AGENTS)}"
        )
    valid = tuple(
        k
        for k in (*LOOP_KEYS, *registry.static_fields(agent), *registry.hparam_fields(agent))
        if k not in SWEEP_LEVEL
    )
    grid, zipped = _axes(data, "grid", valid, where), _axes(data, "zip", valid, where)
    both = set(grid) & set(zipped)
    if both:
        raise ConfigError(f"{where('zip')}: keys {sorted(both)} are in both grid and zip")
    axis_sources = {
        **{k: where(f"grid.{k}") for k in grid},
        **{k: where(f"zip.{k}") for k in zipped},
    }
    sources = {**sources, **axis_sources}
    entries, overrides = _entries(grid, zipped), _overrides(data, valid, where)
    runs = _expand(base, sources, entries, overrides, where, preset)
    runs = [RunSpec({**config, "seed": seed}) for config in runs for seed in _seeds(data, where)]
    name = str(data.get("name", path.stem))
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"{where('name')}: name must be a plain folder name, got {name!r}")
    return Sweep(name, path, text, data, tuple(runs))


def _expand(
    base: dict, sources: dict, entries: list[dict], overrides: list, where: _Where, preset: Preset
):
    """Resolved configs (without seed) of every grid entry, per-entry overrides applied, and the
    preset's block for each run's env family layered right above the preset.

    `when` matches against the entry's resolved config, so it can name a default as well."""
    used: set[int] = set()
    configs = []
    for entry in entries:
        flat, entry_sources = {**base, **entry}, dict(sources)
        resolved = resolve(*apply_family(flat, entry_sources, preset))
        matched = [
            (i, assign)
            for i, when, assign in overrides
            if all(resolved[k] == v for k, v in when.items())
        ]
        for index, assign in matched:
            used.add(index)
            flat.update(assign)
            entry_sources.update({k: where(f"overrides.{index}.set.{k}") for k in assign})
        configs.append(resolve(*apply_family(flat, entry_sources, preset)) if matched else resolved)
    unused = [index for index, _, _ in overrides if index not in used]
    if unused:
        raise ConfigError(f"{where(f'overrides.{unused[0]}.when')}: this override matches no run")
    return configs
