"""Keys a variant does not read are refused (rlscale.agents.variants): for every agent and every
critic network and value loss it takes, what `resolve` accepts is exactly what the agent's code
reads, found by tracing the agent with a config that records every field it is asked for."""

from __future__ import annotations

import dataclasses
import glob
import inspect
import itertools
import sys
import typing
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import pytest

from rlscale.agents import bro, domains, registry, variants
from rlscale.agents.sac import SACHParams, learning_rate
from rlscale.cli import main
from rlscale.config import ConfigError, load_run_config, resolve
from rlscale.losses.value import HEADS
from rlscale.nets.bodies import BODIES, make_body
from rlscale.sweeps.spec import load_sweep
from rlscale.types import Transition

SOURCE = "agents/x.yaml:7"


def _choices(agent: str, key: str) -> list[str]:
    """The values the agent's domain for `key` allows ([None] if it has no such key)."""
    hint = domains.field_hints(registry.spec(agent).config).get(key)
    return [None] if hint is None else list(typing.get_args(typing.get_args(hint)[0]))


def _combinations() -> list[tuple[str, dict[str, Any]]]:
    """Every (agent, critic_net, value_loss) its domains allow, and the SAC family with reward
    scaling flipped from its default (reward_g_max is read only with it)."""
    cases = []
    for agent in registry.AGENTS:
        for net, loss in itertools.product(
            _choices(agent, "critic_net"), _choices(agent, "value_loss")
        ):
            keys = {**({"critic_net": net} if net else {}), "value_loss": loss}
            cases.append((agent, keys))
    for agent in ("sac", "simbav2"):
        default = registry.spec(agent).config.reward_scaling
        cases.append((agent, {"reward_scaling": not default}))
    cases.append(("sac", {"nap": True}))
    return cases


COMBINATIONS = _combinations()


def _recording(cls: type, seen: set[str]) -> type:
    """A subclass of the config dataclass that adds every field read to `seen` (copies made by
    `dataclasses.replace` read every field and do not count)."""

    class Recording(cls):
        def __getattribute__(self, name: str) -> Any:
            caller = sys._getframe(1).f_code.co_filename
            if not name.startswith("__") and not caller.endswith("dataclasses.py"):
                seen.add(name)
            return object.__getattribute__(self, name)

    return Recording


def traced_static_reads(agent: str, keys: dict[str, Any]) -> set[str]:
    """The static config fields the agent's code reads when made and when init, act, the observer,
    update, reset and critic_param_count are traced (abstractly: nothing is compiled), and the
    reset schedule is read as the drivers read it."""
    spec = registry.spec(agent)
    seen: set[str] = set()
    static = {"obs_size": 3, "action_size": 1, "critic_width": 16, "actor_width": 16, **keys}
    made = spec.make(_recording(spec.config, seen)(**static), spec.hparams())
    zeros = jnp.zeros
    batch = Transition(zeros((4, 3)), zeros((4, 1)), zeros(4), zeros((4, 3)), zeros(4))

    def run(key):
        state = made.init(key)
        if made.observer is not None:
            state = made.observer.init(state, 1)
            one = jax.tree.map(lambda x: x[:1], batch)
            state = made.observer.update(state, one, jnp.zeros(1))
        made.act(state.params, batch.obs, key, True)
        made.act(state.params, batch.obs, key, False)
        state, _ = made.update(state, batch, key)
        return made.resets.apply(state, key) if made.resets is not None else state

    made.critic_param_count(jax.eval_shape(run, jax.random.key(0)))
    if made.resets is not None and made.resets.at_env_steps is not None:
        for utd in (1.0, 2.0):  # the drivers read the schedule per run's σ (BRO's rule at 2)
            made.resets.at_env_steps(utd)
    return seen


def _hparams_read(agent: str, values: dict[str, Any]) -> set[str]:
    """Hyperparameters are traced arrays, so which are read is stated here: all of them, but the
    final learning rate only when the schedule decays (test_final_learning_rate_is_inert_...)."""
    fields = set(registry.hparam_fields(agent))
    return fields - {"final_learning_rate"} if values.get("lr_decay_updates") == 0 else fields


@pytest.mark.parametrize(
    ("agent", "keys"),
    COMBINATIONS,
    ids=[f"{a}-{'-'.join(map(str, k.values()))}" for a, k in COMBINATIONS],
)
def test_every_combination_refuses_exactly_the_keys_its_code_does_not_read(agent, keys):
    """Catches: a key that does nothing accepted (a grid over it gives identical runs under
    distinct run ids), a key the code reads refused, or a refusal that names neither the key's
    source nor what would read it. Every key of the agent is set, one at a time, to its default."""
    base = resolve({"agent": agent, **keys})
    read = traced_static_reads(agent, keys) | _hparams_read(agent, base)
    for key in (*registry.static_fields(agent), *registry.hparam_fields(agent)):
        flat = {"agent": agent, **keys, key: base[key]}
        sources = {key: SOURCE}
        if key in read:
            assert resolve(flat, sources) == base, key
            continue
        with pytest.raises(ConfigError) as error:
            resolve(flat, sources)
        message = str(error.value)
        assert message.startswith(f"{SOURCE}: {key} is "), message
        assert "read only when" in message or f"not read by agent={agent}" in message, message


def test_the_issues_examples_are_refused_naming_the_line_and_the_variant_that_reads_them(tmp_path):
    """Catches: the four ignored keys of the issue, and BRO's inherited stream and order fields
    (make_bro uses make_sac_steps, not make_sac), still accepted."""
    cases = {
        "critic_net: mlp\nmoe_experts: 8\n": "x.yaml:2: moe_experts is read only when "
        "critic_net=softmoe (here critic_net=mlp)",
        "reward_g_max: 3.0\n": "x.yaml:1: reward_g_max is read only when reward_scaling=true "
        "(here reward_scaling=false)",
        "value_loss: mse\nv_max: 5.0\n": "x.yaml:2: v_max is read only when "
        "value_loss=c51, hl_gauss or two_hot (here value_loss=mse)",
        "critic_net: softmoe\ncritic_layer_norm: true\n": "x.yaml:2: critic_layer_norm is read "
        "only when critic_net=mlp (here critic_net=softmoe)",
        "value_loss: quantile\nv_min: -1.0\n": "v_min is read only when",
        "final_learning_rate: 1.0e-5\n": "final_learning_rate is read only when "
        "lr_decay_updates != 0 (here lr_decay_updates=0)",
    }
    for key in ("reward_scaling", "obs_norm", "actor_first"):
        cases[f"agent: bro\n{key}: true\n"] = (
            f"x.yaml:2: {key} is not read by agent=bro (read by agent=sac, simbav2)"
        )
    path = tmp_path / "x.yaml"
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(ConfigError) as error:
            load_run_config(path, {})
        assert message in str(error.value), (text, str(error.value))


def test_a_sweep_grid_over_an_ignored_key_exits_2_before_anything_is_written(tmp_path, capsys):
    """Catches: the sweep expanding a grid over moe_experts on an MLP critic into runs that differ
    only in their run ids."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("agent: sac\nenv: jax:pendulum\ngrid: {moe_experts: [2, 4, 8]}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert f"{spec}:3 (grid.moe_experts): moe_experts is read only when critic_net=softmoe" in error
    assert not (tmp_path / "out").exists()
    assert main(["train", "--agent", "bro", "--obs-norm", "true"]) == 2
    assert "obs_norm is not read by agent=bro" in capsys.readouterr().err


def test_final_learning_rate_is_inert_without_decay_and_read_with_it():
    """Catches: the declared schedule choice (final_learning_rate read only when lr_decay_updates
    != 0) disagreeing with `learning_rate`."""
    step = jnp.asarray(50.0)
    constant = [learning_rate(SACHParams(final_learning_rate=f), step) for f in (0.0, 1.0)]
    assert float(constant[0]) == float(constant[1]) == pytest.approx(SACHParams().learning_rate)
    for updates in (100.0, 1000.0):
        decayed = [
            learning_rate(SACHParams(final_learning_rate=f, lr_decay_updates=updates), step)
            for f in (0.0, 1.0)
        ]
        assert float(decayed[0]) != float(decayed[1])


def test_the_choices_cover_the_builders_and_pass_only_options_they_take():
    """Catches: a network or head added without a variant (its keys would all be refused or all
    accepted), or an option a builder silently ignores (make_body passes options to the torso
    module's constructor, so an unknown one is a TypeError; heads are checked by signature)."""
    assert set(variants.CRITIC_NET.options) == set(BODIES)
    assert set(variants.VALUE_LOSS.options) == set(HEADS)
    defaults = {**{f.name: f.default for f in dataclasses.fields(registry.spec("sac").config)}}
    for name in BODIES:
        option = variants.CRITIC_NET.build(_Namespace({**defaults, "critic_net": name}))
        make_body(name, 16, 2, **option.body_options())
        with pytest.raises(TypeError):
            make_body(name, 16, 2, **option.body_options(), not_an_option=1)
    for name, factory in HEADS.items():
        option = variants.VALUE_LOSS.build(_Namespace({**defaults, "value_loss": name}))
        named = {
            p.name
            for p in inspect.signature(factory).parameters.values()
            if p.kind is not p.VAR_KEYWORD
        }
        assert set(option.head_options()) <= named, name


class _Namespace:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)


def test_every_field_is_read_by_some_agent_and_reads_name_only_real_fields():
    """Catches: a config field no builder reads (dead for every agent), and a declared read of
    a field the agent does not have."""
    for name in registry.AGENTS:
        fields = {*registry.static_fields(name), *registry.hparam_fields(name)}
        possible = registry.reads(name).possible() - set(registry.ENV_FIELDS)
        assert possible <= fields, (name, possible - fields)
    every = set().union(*(registry.reads(name).possible() for name in registry.AGENTS))
    for name in registry.AGENTS:
        unread = {*registry.static_fields(name), *registry.hparam_fields(name)} - every
        assert not unread, (name, unread)


def test_bro_takes_sac_hyperparameters_by_name(monkeypatch):
    """Catches: SACHParams built from BRO's hyperparameters by position, which breaks as soon as
    the two NamedTuples' field orders differ."""
    seen = {}

    def spy(config, hparams):
        seen["hparams"] = hparams
        raise RuntimeError("stop")

    monkeypatch.setattr(bro, "make_sac_steps", spy)
    fields = list(reversed(bro.BROHParams._fields))
    Reordered = NamedTuple("Reordered", [(f, float) for f in fields])
    hparams = Reordered(*(float(i) for i in range(len(fields))))
    config = bro.BROConfig(obs_size=3, action_size=1)
    with pytest.raises(RuntimeError, match="stop"):
        bro.make_bro(config, hparams)
    assert seen["hparams"] == SACHParams(**{f: getattr(hparams, f) for f in SACHParams._fields})


@pytest.mark.parametrize("preset", sorted(glob.glob("agents/*.yaml")))
def test_every_agent_preset_loads(preset):
    """Catches: a preset that sets a key its own variant ignores (refused now), here or in its
    family blocks (dmc:cheetah-run, gym:HalfCheetah-v5)."""
    for env in ({}, {"env": "dmc:cheetah-run"}, {"env": "gym:HalfCheetah-v5"}):
        load_run_config(preset, env)


@pytest.mark.parametrize("spec", sorted(glob.glob("sweeps/*.yaml")))
def test_every_sweep_spec_loads(spec):
    """Catches: a shipped sweep spec that the new refusals or domains reject."""
    assert load_sweep(spec).runs
