"""Run configuration: flat keys from YAML files and CLI flags, validated before anything compiles.

A run's config is one flat mapping: training-loop keys (`LoopKeys`) plus the agent's own keys (its
static config fields and hyperparameters, see rlscale.agents.registry). Errors name the key, the
file and line where it came from, and the valid choices.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, NamedTuple

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from rlscale import envs
from rlscale.agents import registry


class ConfigError(ValueError):
    """A bad key or value in user input; the message is meant for the user as is."""


class LoopKeys(BaseModel):
    """Keys every run has, whatever the agent."""

    model_config = ConfigDict(extra="forbid")
    agent: str = "sac"  # a name in rlscale.agents.AGENTS
    env: str = "jax:pendulum"  # <family>:<name>
    steps: int = Field(20_000, gt=0)  # env steps per run
    utd: float = Field(1.0, gt=0)  # sigma: gradient updates per env transition
    batch_size: int = Field(256, gt=0)
    n_envs: int = Field(1, gt=0)  # env copies per run
    warmup_steps: int = Field(1000, ge=0)  # random-action env steps before learning starts
    eval_every: int = Field(2000, gt=0)  # env steps between eval points
    eval_episodes: int = Field(5, gt=0)
    buffer_size: int = Field(0, ge=0)  # replay capacity; 0 = steps
    max_episode_steps: int = Field(0, ge=0)  # 0 = the env's own time limit (in agent steps)
    action_repeat: int = Field(0, ge=0)  # 0 = the env family's default (2 dmc/playground, else 1)
    env_workers: int = Field(0, ge=0)  # host envs: worker processes stepping copies; 0 = in-process
    seed: int = Field(0, ge=0)


LOOP_KEYS = tuple(LoopKeys.model_fields)
FAMILY_KEY = "family"  # an agent preset's per-env-family block


def node_lines(text: str) -> dict[str, int]:
    """Dotted path -> 1-based line of every mapping key and sequence item of a YAML document."""
    lines: dict[str, int] = {}

    def visit(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[f"{prefix}{key.value}"] = key.start_mark.line + 1
                visit(value, f"{prefix}{key.value}.")
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[f"{prefix}{index}"] = item.start_mark.line + 1
                visit(item, f"{prefix}{index}.")

    if text.strip():
        visit(yaml.compose(text), "")
    return lines


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys to values, got {type(data).__name__}"
        )
    return data


def _where(key: str, sources: dict[str, str]) -> str:
    return sources.get(key, "command line")


def _unknown_key(key: str, valid: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ConfigError(
        f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(sorted(valid))}"
    )


def _agent_types(agent: str) -> dict[str, Any]:
    spec = registry.spec(agent)
    hints = {**typing.get_type_hints(spec.config), **typing.get_type_hints(spec.hparams)}
    return {k: hints[k] for k in (*registry.static_fields(agent), *registry.hparam_fields(agent))}


def _check_value(key: str, kind: Any, value: Any, where: str) -> Any:
    try:
        value = pydantic.TypeAdapter(kind).validate_python(value)
    except pydantic.ValidationError as error:
        raise ConfigError(
            f"{where}: {key}={value!r} is not a valid {kind}: {error.errors()[0]['msg']}"
        ) from None
    if (kind is int and value <= 0) or (key == "learning_rate" and value <= 0):
        raise ConfigError(f"{where}: {key} must be positive, got {value}")
    return value


def resolve(flat: dict[str, Any], sources: dict[str, str] | None = None) -> dict[str, Any]:
    """Validate a flat run config and fill every default.

    Args:
        flat: user keys (loop keys and agent keys). sources: key -> "file:line" for messages.
    Returns:
        The fully resolved flat config (loop keys, then the agent's keys in declaration order).
    Raises:
        ConfigError: naming the first bad key, where it came from, and the valid choices.
    """
    sources = sources or {}
    agent = flat.get("agent", "sac")
    if agent not in registry.AGENTS:
        raise ConfigError(
            f"{_where('agent', sources)}: unknown agent {agent!r}; valid: {sorted(registry.AGENTS)}"
        )
    types = _agent_types(agent)
    for key in flat:
        if key not in LOOP_KEYS and key not in types:
            raise _unknown_key(key, [*LOOP_KEYS, *types], _where(key, sources))
    try:
        loop = LoopKeys(**{k: v for k, v in flat.items() if k in LOOP_KEYS}).model_dump()
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        key = str(first["loc"][0])
        raise ConfigError(
            f"{_where(key, sources)}: {key}={flat.get(key)!r}: {first['msg']}"
        ) from None
    try:
        envs.check_name(loop["env"])
    except ValueError as error:
        raise ConfigError(f"{_where('env', sources)}: {error}") from None
    defaults = {**registry.spec(agent).hparams()._asdict()}
    config_defaults = {f: getattr(registry.spec(agent).config, f, None) for f in types}
    resolved_agent = {}
    for key, kind in types.items():
        if key in flat:
            resolved_agent[key] = _check_value(key, kind, flat[key], _where(key, sources))
        else:
            resolved_agent[key] = defaults.get(key, config_defaults[key])
    if "eval_every" not in flat:
        loop["eval_every"] = default_eval_every(loop["steps"], loop["n_envs"])
    _check_loop(loop, sources)
    return {**loop, **resolved_agent}


def _eval_every_choices(steps: int, n_envs: int) -> list[int]:
    """Eval intervals that divide `steps`, are multiples of `n_envs` and give 10-40 eval points."""
    return [
        d for d in range(n_envs, steps // 10 + 1, n_envs) if steps % d == 0 and steps // d <= 40
    ]


def default_eval_every(steps: int, n_envs: int = 1) -> int:
    """eval_every when none is given: the largest interval giving at least 10 eval points (at
    most 40), dividing `steps` and a multiple of `n_envs`; 2000 for the default 20k steps.

    Raises:
        ConfigError: when no interval fits, suggesting the nearest step counts that have one.
    """
    choices = _eval_every_choices(steps, n_envs)
    if choices:
        return choices[-1]
    nearby = sorted(range(max(10, steps - 1000), steps + 1000), key=lambda s: abs(s - steps))
    fits = [s for s in nearby if _eval_every_choices(s, n_envs)][:2]
    raise ConfigError(
        f"steps={steps}: no eval_every divides it into 10-40 eval points (a multiple of "
        f"n_envs={n_envs}); use steps {' or '.join(map(str, sorted(fits)))}, or set eval_every"
    )


def _check_loop(loop: dict[str, Any], sources: dict[str, str]) -> None:
    warmup = max(loop["warmup_steps"], loop["n_envs"])
    if loop["batch_size"] > warmup:
        raise ConfigError(
            f"{_where('batch_size', sources)}: batch_size={loop['batch_size']} is larger than the "
            f"warm-up data (warmup_steps={loop['warmup_steps']}): raise warmup_steps or lower it"
        )
    if loop["eval_every"] % loop["n_envs"] or loop["steps"] % loop["eval_every"]:
        raise ConfigError(
            f"{_where('eval_every', sources)}: eval_every={loop['eval_every']} must divide "
            f"steps={loop['steps']} and be a multiple of n_envs={loop['n_envs']}"
        )


class Preset(NamedTuple):
    """An agent preset file: its flat keys, where each came from, and its per-family blocks."""

    flat: dict[str, Any]
    sources: dict[str, str]
    families: dict[str, dict[str, Any]]  # env family -> keys that replace the preset's there


def load_preset(path: str | Path) -> Preset:
    """Read an agent preset (or any run-config YAML), splitting off its `family:` block.

    `family: {dmc: {utd: 2}, gym: {gamma: 0.995}}` keys blocks by the env name's prefix; a run on
    that family takes them in place of the preset's own values (see `apply_family`).
    """
    path = Path(path)
    flat = load_yaml(path)
    lines = node_lines(path.read_text())

    def where(dotted: str) -> str:
        return f"{path}:{lines.get(dotted, 1)} ({dotted})"

    sources = {k: f"{path}:{lines[k]}" for k in flat if k != FAMILY_KEY}
    block = flat.pop(FAMILY_KEY, None) or {}
    if not isinstance(block, dict):
        raise ConfigError(f"{where(FAMILY_KEY)}: expected env family -> keys, got {block!r}")
    families = {}
    for family, keys in block.items():
        dotted = f"{FAMILY_KEY}.{family}"
        if family not in envs.FAMILIES:
            raise ConfigError(
                f"{where(dotted)}: unknown env family {family!r}; valid: {', '.join(envs.FAMILIES)}"
            )
        if not isinstance(keys, dict):
            raise ConfigError(f"{where(dotted)}: expected keys to values, got {keys!r}")
        families[family] = {k: (v, where(f"{dotted}.{k}")) for k, v in keys.items()}
    return Preset(flat, sources, families)


def apply_family(
    flat: dict[str, Any], sources: dict[str, str], preset: Preset
) -> tuple[dict[str, Any], dict[str, str]]:
    """The preset's block for `flat["env"]`'s family, layered right above the preset itself.

    A key of the block replaces the preset's value (or the agent's default) only where no later
    layer (agent overrides, env preset, budget, grid, overrides, CLI flags) set it, so those still
    win; the block's source is recorded for error messages.
    """
    family = str(flat.get("env", "")).partition(":")[0]
    flat, sources = dict(flat), dict(sources)
    for key, (value, source) in preset.families.get(family, {}).items():
        if sources.get(key) == preset.sources.get(key):  # still the preset's (or nobody's)
            flat[key], sources[key] = value, source
    return flat, sources


def load_run_config(path: str | Path | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """Merge a YAML file (with its family block) and overrides (overrides win), then `resolve`."""
    preset = load_preset(path) if path is not None else Preset({}, {}, {})
    sources = {k: v for k, v in preset.sources.items() if k not in overrides}
    return resolve(*apply_family({**preset.flat, **overrides}, sources, preset))
