"""Run configuration: flat keys from YAML files and CLI flags, validated before anything compiles.

A run's config is one flat mapping: training-loop keys (`LoopKeys`) plus the agent's own keys (its
static config fields and hyperparameters, see rlscale.agents.registry). Every key has a value
domain, declared on its field (rlscale.agents.domains); a key the user set that the run's agent or
variant does not read is refused (rlscale.agents.variants). Errors name the key, the file and line
where it came from, and the valid choices.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict

from rlscale import envs
from rlscale.agents import registry
from rlscale.agents.domains import (
    Domain,
    Flag,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    domain_of,
    field_hints,
    one_of,
)


class ConfigError(ValueError):
    """A bad key or value in user input; the message is meant for the user as is."""


AgentName = Annotated[Literal[tuple(registry.AGENTS)], Domain(f"one of {sorted(registry.AGENTS)}")]
PRECISIONS = ("highest", "high", "default")  # jax.default_matmul_precision levels
MatmulPrecision = one_of(*PRECISIONS)
EnvName = Annotated[str, Domain(f"<family>:<name>, family one of {', '.join(envs.FAMILIES)}")]


class LoopKeys(BaseModel):
    """Keys every run has, whatever the agent; each hint is the key's domain."""

    model_config = ConfigDict(extra="forbid")
    agent: AgentName = "sac"  # a name in rlscale.agents.AGENTS
    env: EnvName = "jax:pendulum"  # <family>:<name>
    steps: PositiveInt = 20_000  # env steps per run
    utd: PositiveFloat = 1.0  # sigma: gradient updates per env transition
    batch_size: PositiveInt = 256
    n_envs: PositiveInt = 1  # env copies per run
    warmup_steps: NonNegativeInt = 1000  # random-action env steps before learning starts
    eval_every: PositiveInt = 2000  # env steps between eval points
    eval_episodes: PositiveInt = 5
    buffer_size: NonNegativeInt = 0  # replay capacity; 0 = steps, else at least batch_size
    checkpoint_every: NonNegativeInt = 0  # env steps between checkpoints; 0 = every ~5 minutes
    max_episode_steps: NonNegativeInt = 0  # 0 = the env's own time limit (in agent steps)
    action_repeat: NonNegativeInt = 0  # 0 = the env family's default (2 dmc/playground, else 1)
    env_workers: NonNegativeInt = 0  # host envs: worker processes stepping copies; 0 = in-process
    seed: NonNegativeInt = 0
    matmul_precision: MatmulPrecision = "highest"  # float32 dots, rlscale.training.precision
    deterministic: Flag = False  # deterministic GPU ops: process-wide, so set per launch or sweep


LOOP_KEYS = tuple(LoopKeys.model_fields)
LOOP_HINTS = {
    k: v for k, v in typing.get_type_hints(LoopKeys, include_extras=True).items() if k in LOOP_KEYS
}
FAMILY_KEY = "family"  # an agent preset's per-env-family block
# Per-run logging sinks (`rlscale.training.loggers`); parquet metrics are always written.
LOGGERS = ("parquet", "tensorboard", "wandb")


def check_loggers(value: Any, where: str) -> tuple[str, ...]:
    """A `loggers:` list, validated; ConfigError naming `where` and the valid sinks."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or any(n not in LOGGERS for n in names):
        raise ConfigError(f"{where}: loggers must be a list of {list(LOGGERS)}, got {value!r}")
    missing = [n for n in names if n != "parquet" and importlib.util.find_spec(n) is None]
    if missing:
        raise ConfigError(f"{where}: {missing} not installed: pip install 'rlscale[logging]'")
    return tuple(dict.fromkeys(names))


def parse_yaml(text: str, path: str | Path, parse: Any = yaml.safe_load) -> Any:
    """`parse(text)`, a YAML syntax error raised as ConfigError "path:line: not valid YAML: ..."."""
    try:
        return parse(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        context = getattr(error, "context", None)
        detail = f"{problem} ({context})" if context else problem
        raise ConfigError(f"{path}{line}: not valid YAML: {detail}") from None


def node_lines(text: str, path: str | Path = "<yaml>") -> dict[str, int]:
    """Dotted path -> 1-based line of every mapping key and sequence item of a YAML document.

    Raises:
        ConfigError: for a syntax error, or a key given twice in one mapping (YAML keeps the last
            silently), naming the file and line.
    """
    lines: dict[str, int] = {}

    def visit(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if f"{prefix}{key.value}" in lines:
                    raise ConfigError(
                        f"{path}:{key.start_mark.line + 1}: {prefix}{key.value} is given twice "
                        f"(first at line {lines[f'{prefix}{key.value}']})"
                    )
                lines[f"{prefix}{key.value}"] = key.start_mark.line + 1
                visit(value, f"{prefix}{key.value}.")
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[f"{prefix}{index}"] = item.start_mark.line + 1
                visit(item, f"{prefix}{index}.")

    if text.strip():
        visit(parse_yaml(text, path, yaml.compose), "")
    return lines


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    data = parse_yaml(path.read_text(), path) or {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys to values, got {type(data).__name__}"
        )
    return data


def _where(key: str, sources: dict[str, str]) -> str:
    return sources.get(key, "command line")


def _unknown_key(key: str, valid: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(str(key), valid, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ConfigError(
        f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(sorted(valid))}"
    )


@functools.cache
def _agent_hints(agent: str) -> dict[str, Any]:
    """The agent's user keys (static fields, then hyperparameters) -> their domain hints."""
    spec = registry.spec(agent)
    hints = {**field_hints(spec.config), **field_hints(spec.hparams)}
    return {k: hints[k] for k in (*registry.static_fields(agent), *registry.hparam_fields(agent))}


@functools.cache
def _adapter(agent: str, key: str) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(_agent_hints(agent)[key])


def _domain_error(key: str, value: Any, hint: Any, error: pydantic.ValidationError, where: str):
    """`where: key=value: what is wrong; key takes <its domain>`."""
    first = error.errors()[0]
    domain = domain_of(hint)
    takes = f"; {key} takes {domain.text}" if domain is not None else ""
    return ConfigError(f"{where}: {key}={value!r}: {first['msg']}{takes}")


def _check_value(agent: str, key: str, value: Any, where: str) -> Any:
    try:
        return _adapter(agent, key).validate_python(value)
    except pydantic.ValidationError as error:
        raise _domain_error(key, value, _agent_hints(agent)[key], error, where) from None


def resolve(flat: dict[str, Any], sources: dict[str, str] | None = None) -> dict[str, Any]:
    """Validate a flat run config and fill every default.

    Every value is checked against its key's domain; a key the user set (in `flat`, not a
    default) that the run's agent, or the variant its values choose, does not read is refused.

    Args:
        flat: user keys (loop keys and agent keys). sources: key -> "file:line" for messages.
    Returns:
        The fully resolved flat config (loop keys, then the agent's keys in declaration order).
    Raises:
        ConfigError: naming the first bad key, where it came from, and the valid choices.
    """
    sources = sources or {}
    agent = flat.get("agent", "sac")
    if not isinstance(agent, str) or agent not in registry.AGENTS:
        raise ConfigError(
            f"{_where('agent', sources)}: unknown agent {agent!r}; valid: {sorted(registry.AGENTS)}"
        )
    hints = _agent_hints(agent)
    for key in flat:
        if key not in LOOP_KEYS and key not in hints:
            raise _unknown_key(key, [*LOOP_KEYS, *hints], _where(key, sources))
    try:
        loop = LoopKeys(**{k: v for k, v in flat.items() if k in LOOP_KEYS}).model_dump()
    except pydantic.ValidationError as error:
        key = str(error.errors()[0]["loc"][0])
        raise _domain_error(
            key, flat.get(key), LOOP_HINTS[key], error, _where(key, sources)
        ) from None
    try:
        envs.check_name(loop["env"])
        envs.check_action_repeat(loop["env"], loop["action_repeat"])
    except ValueError as error:
        key = "env" if "action_repeat" not in flat else "action_repeat"
        raise ConfigError(f"{_where(key, sources)}: {error}") from None
    spec = registry.spec(agent)
    defaults = {**spec.hparams()._asdict()}
    resolved_agent = {}
    for key in hints:
        if key in flat:
            resolved_agent[key] = _check_value(agent, key, flat[key], _where(key, sources))
        else:
            resolved_agent[key] = defaults.get(key, getattr(spec.config, key, None))
    if "eval_every" not in flat:
        loop["eval_every"] = default_eval_every(loop["steps"], loop["n_envs"])
    _check_loop(loop, flat, sources)
    resolved = {**loop, **resolved_agent}
    _check_reads(agent, flat, resolved, sources)
    return resolved


def _check_reads(agent: str, flat: dict[str, Any], resolved: dict, sources: dict) -> None:
    """Refuse a user key the agent or its chosen variants do not read, and a chosen variant's
    settings that do not fit together (rlscale.agents.variants)."""
    reads = registry.reads(agent)
    read = reads.read(resolved)
    for key in flat:
        if key in LOOP_KEYS or key in read:
            continue
        why = reads.why_unread(key, resolved)
        if why is None:
            others = [name for name in registry.readers(key) if name != agent]
            why = f"{key} is not read by agent={agent} (read by agent={', '.join(others)})"
        raise ConfigError(f"{_where(key, sources)}: {why}")
    for option in reads.options(resolved):
        for keys, message in getattr(option, "problems", lambda _: ())(resolved):
            key = next((k for k in keys if k in sources or k in flat), keys[0])
            raise ConfigError(f"{_where(key, sources)}: {message}")


def _eval_every_choices(steps: int, n_envs: int) -> list[int]:
    """Eval intervals that divide `steps`, are multiples of `n_envs` and give 10-40 eval points."""
    # d = steps / points for 10-40 points: at most 31 candidates, whatever the budget.
    divisors = {steps // points for points in range(10, 41) if steps % points == 0}
    return sorted(d for d in divisors if d % n_envs == 0)


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


def _check_loop(loop: dict[str, Any], flat: dict[str, Any], sources: dict[str, str]) -> None:
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
    if loop["checkpoint_every"] % loop["n_envs"]:
        raise ConfigError(
            f"{_where('checkpoint_every', sources)}: checkpoint_every={loop['checkpoint_every']} "
            f"must be a multiple of n_envs={loop['n_envs']} (or 0: every ~5 minutes)"
        )
    if 0 < loop["buffer_size"] < loop["batch_size"]:
        raise ConfigError(
            f"{_where('buffer_size', sources)}: buffer_size={loop['buffer_size']} is smaller than "
            f"batch_size={loop['batch_size']}; buffer_size takes 0 (= steps) or at least batch_size"
        )
    if "env_workers" in flat and not envs.is_host(loop["env"]):
        raise ConfigError(
            f"{_where('env_workers', sources)}: env_workers is read only for host env families "
            f"({', '.join(envs.HOST_FAMILIES)}) (here env={loop['env']})"
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
    lines = node_lines(path.read_text(), path)

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
