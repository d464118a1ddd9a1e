"""Which flat config keys an agent reads, and the variant sub-configs that read keys only sometimes.

An agent's config stays one flat frozen dataclass (hashed into the compiled group's key and written
to every run's config.yaml), but some of its keys are read only by one variant: the critic network
(`critic_net`), the value loss (`value_loss`), reward scaling (`reward_scaling`) and the
learning-rate schedule (`lr_decay_updates`). Each such `Choice` maps the value of its key to an
option, a sub-config dataclass whose fields ARE the flat keys that option reads: SoftMoE
(moe_experts, moe_tokens, moe_tokenize), MLP (critic_layer_norm), Categorical (value_loss, v_min,
v_max, n_bins), Quantile (n_bins), RewardScaling (reward_g_max), LinearDecay
(final_learning_rate). The builders take their settings from the option (`Choice.build(config)`),
never from the flat fields, so a variant's schema and what it reads are one list.

`Reads` declares what one builder reads: keys read whatever the values, plus choices. The agent
registry names the `Reads` of each agent's builder; `rlscale.config.resolve` refuses any key a user
set that the run's agent and variants do not read (`Reads.why_unread`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from rlscale.agents.options import (
    MLP,
    MSE,
    Absolute,
    BroNet,
    Categorical,
    Conservative,
    ConstantRate,
    Huber,
    LinearDecay,
    NaP,
    Optimism,
    Quantile,
    RewardScaling,
    SimbaV2,
    SoftMoE,
    Unprojected,
    Unscaled,
)


@dataclasses.dataclass(frozen=True)
class Choice:
    """A flat key whose value picks an option; the option's fields are read only then.

    key: the flat key. options: option name -> sub-config dataclass. classify: the key's value ->
    option name (default: the value itself). labels: option name -> the condition in words
    (default "key=name").
    """

    key: str
    options: Mapping[Any, type]
    classify: Callable[[Any], Any] | None = None
    labels: Mapping[Any, str] | None = None

    def option(self, value: Any) -> type:
        return self.options[self.classify(value) if self.classify else value]

    def build(self, config: Any) -> Any:
        """The chosen option, its fields read from `config` (an object with the flat keys as
        attributes: the agent's config dataclass or hyperparameters)."""
        cls = self.option(getattr(config, self.key))
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})

    def reading(self, key: str) -> list[Any]:
        """The option names that read `key`."""
        return [name for name, cls in self.options.items() if key in fields(cls)]

    def label(self, *names: Any) -> str:
        """The condition that the key's value picks one of `names`, e.g. "value_loss=c51 or
        hl_gauss"."""
        if self.labels:
            return _join([self.labels[name] for name in names])
        shown = [str(n).lower() if isinstance(n, bool) else str(n) for n in names]
        return f"{self.key}={_join(sorted(shown))}"


def fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


CRITIC_NET = Choice(
    "critic_net", {"mlp": MLP, "softmoe": SoftMoE, "bronet": BroNet, "simbav2": SimbaV2}
)
VALUE_LOSS = Choice(
    "value_loss",
    {
        "mse": MSE,
        "hl_gauss": Categorical,
        "two_hot": Categorical,
        "c51": Categorical,
        "quantile": Quantile,
        "huber": Huber,
        "absolute": Absolute,
    },
)
NAP = Choice("nap", {False: Unprojected, True: NaP})
REWARD_SCALING = Choice("reward_scaling", {False: Unscaled, True: RewardScaling})
OPTIMISM = Choice("optimistic", {True: Optimism, False: Conservative})
LR_SCHEDULE = Choice(
    "lr_decay_updates",
    {"constant": ConstantRate, "linear": LinearDecay},
    classify=lambda updates: "constant" if updates == 0 else "linear",
    labels={"constant": "lr_decay_updates=0", "linear": "lr_decay_updates != 0"},
)


@dataclasses.dataclass(frozen=True)
class Reads:
    """What one builder reads of its agent's flat config: `keys` whatever their values, and each
    choice's key plus the fields of the option its value picks."""

    keys: frozenset[str]
    choices: tuple[Choice, ...] = ()

    def __or__(self, other: Reads) -> Reads:
        return Reads(self.keys | other.keys, (*self.choices, *other.choices))

    def read(self, values: Mapping[str, Any]) -> frozenset[str]:
        """The keys read by a config with these (resolved) values."""
        read = set(self.keys)
        for choice in self.choices:
            read |= {choice.key, *fields(choice.option(values[choice.key]))}
        return frozenset(read)

    def possible(self) -> frozenset[str]:
        """Every key some values of the choices make read."""
        keys = set(self.keys)
        for choice in self.choices:
            keys |= {choice.key, *(k for cls in choice.options.values() for k in fields(cls))}
        return frozenset(keys)

    def why_unread(self, key: str, values: Mapping[str, Any]) -> str | None:
        """None if `key` is read with these values or never (not in `possible`); else which
        option of which choice would read it, e.g. "moe_experts is read only when
        critic_net=softmoe (here critic_net=mlp)"."""
        if key in self.read(values):
            return None
        for choice in self.choices:
            names = choice.reading(key)
            if names:
                here = values[choice.key]
                here = choice.classify(here) if choice.classify else here
                return f"{key} is read only when {choice.label(*names)} (here {choice.label(here)})"
        return None

    def options(self, values: Mapping[str, Any]) -> list[Any]:
        """The chosen option of every choice, built from `values`."""
        namespace = _Namespace(values)
        return [choice.build(namespace) for choice in self.choices]


class _Namespace:
    def __init__(self, values: Mapping[str, Any]):
        self.__dict__.update(values)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


# What each builder reads (rlscale.agents.registry names them per agent; a test traces every
# agent with every option and checks these against the config fields the code really touches).
SAC_STEPS = Reads(  # rlscale.agents.sac.make_sac_steps (SAC's networks and update steps)
    frozenset(
        {
            *("obs_size", "action_size", "critic_width", "critic_depth"),
            *("actor_width", "actor_depth", "actor_net", "actor_log_std", "n_critics"),
            *("target_rule", "adam_b1", "weight_decay", "temperature_b1"),
            *("temperature_on_log_alpha", "learning_rate", "gamma", "tau"),
            *("target_entropy_scale", "init_temperature"),
        }
    ),
    (CRITIC_NET, VALUE_LOSS, LR_SCHEDULE, NAP),
)
STREAMS = Reads(frozenset({"obs_norm"}), (REWARD_SCALING,))  # agents.streams
SAC = SAC_STEPS | STREAMS | Reads(frozenset({"actor_first"}))  # make_sac: steps, order, streams


def added_fields(cls: type, base: type) -> frozenset[str]:
    """Fields `cls` declares beyond `base`'s (dataclass or NamedTuple)."""
    names = lambda c: set(getattr(c, "_fields", None) or fields(c))  # noqa: E731
    return frozenset(names(cls) - names(base))


def every_field(*classes: type, choices: tuple[Choice, ...] = ()) -> Reads:
    """A builder that reads every field of `classes`, those of `choices`' options only when
    chosen."""
    conditional = Reads(frozenset(), choices).possible() - {c.key for c in choices}
    names = set()
    for cls in classes:
        names |= set(getattr(cls, "_fields", None) or fields(cls))
    return Reads(frozenset(names - conditional), choices)
