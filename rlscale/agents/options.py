"""The sub-configs of the agents' variant keys (rlscale.agents.variants): each option's fields are
the flat config keys it reads, its `*_options()` what it passes to the builder, its `problems` the
settings that do not fit together."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

# ---- critic networks (critic_net): options passed to rlscale.nets.bodies.make_body ----


@dataclasses.dataclass(frozen=True)
class MLP:
    """critic_net=mlp: Dense-ReLU layers, LayerNorm before each activation if set."""

    critic_layer_norm: bool

    def body_options(self) -> dict[str, Any]:
        return {"layer_norm": self.critic_layer_norm}


@dataclasses.dataclass(frozen=True)
class SoftMoE:
    """critic_net=softmoe: a SoftMoE layer replaces the penultimate critic layer."""

    moe_experts: int
    moe_tokens: int
    moe_tokenize: str

    def body_options(self) -> dict[str, Any]:
        return {
            "n_experts": self.moe_experts,
            "n_tokens": self.moe_tokens,
            "tokenize": self.moe_tokenize,
        }

    def problems(self, flat: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
        width, tokens = flat["critic_width"], self.moe_tokens
        keys = ("moe_tokens", "critic_width")
        if self.moe_tokenize == "chunk" and width % tokens:
            yield keys, f"moe_tokens={tokens} must divide critic_width={width} (chunk tokens)"
        elif tokens > width:
            yield keys, f"moe_tokens={tokens} exceeds critic_width={width}"


@dataclasses.dataclass(frozen=True)
class BroNet:
    """critic_net=bronet: BRO's residual blocks (no options)."""

    def body_options(self) -> dict[str, Any]:
        return {}


@dataclasses.dataclass(frozen=True)
class SimbaV2:
    """critic_net=simbav2: SimbaV2's hyperspherical blocks (no options)."""

    def body_options(self) -> dict[str, Any]:
        return {}


# ---- value losses (value_loss): options passed to rlscale.losses.value.make_value_head ----


@dataclasses.dataclass(frozen=True)
class MSE:
    """value_loss=mse: a scalar Q regressed on the TD target (no options)."""

    def head_options(self) -> dict[str, Any]:
        return {}


@dataclasses.dataclass(frozen=True)
class Categorical:
    """value_loss=hl_gauss, two_hot or c51: logits over n_bins on the support [v_min, v_max]."""

    value_loss: str  # the kind
    v_min: float
    v_max: float
    n_bins: int

    def head_options(self) -> dict[str, Any]:
        return {"v_min": self.v_min, "v_max": self.v_max, "n_bins": self.n_bins}

    def problems(self, flat: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
        if not self.v_min < self.v_max:
            yield ("v_min", "v_max"), f"v_min={self.v_min} must be below v_max={self.v_max}"
        if self.n_bins < 2:
            yield ("n_bins",), f"n_bins={self.n_bins}: a categorical support needs at least 2 bins"


@dataclasses.dataclass(frozen=True)
class Quantile:
    """value_loss=quantile: n_bins quantiles, unbounded (no support)."""

    n_bins: int

    def head_options(self) -> dict[str, Any]:
        return {"n_bins": self.n_bins}


@dataclasses.dataclass(frozen=True)
class Huber:
    """value_loss=huber: Huber(huber_delta) of the TD error, semi-gradient or saddle point
    (rlscale.losses.robust)."""

    robust: str
    huber_delta: float

    def head_options(self) -> dict[str, Any]:
        return {"robust": self.robust, "huber_delta": self.huber_delta}


@dataclasses.dataclass(frozen=True)
class Absolute:
    """value_loss=absolute: |TD error|, semi-gradient (rlscale.losses.robust)."""

    def head_options(self) -> dict[str, Any]:
        return {}


# ---- stream statistics (rlscale.agents.streams) and the learning-rate schedule ----


@dataclasses.dataclass(frozen=True)
class Unscaled:
    """reward_scaling=false: rewards as the env gives them."""


@dataclasses.dataclass(frozen=True)
class RewardScaling:
    """reward_scaling=true: r / max(std(G), max|G| / reward_g_max), G the running return."""

    reward_g_max: float


@dataclasses.dataclass(frozen=True)
class ConstantRate:
    """lr_decay_updates=0: learning_rate throughout."""


@dataclasses.dataclass(frozen=True)
class LinearDecay:
    """lr_decay_updates != 0: linear from learning_rate to final_learning_rate. A hyperparameter
    schedule, so `rlscale.agents.sac.learning_rate` computes both branches (runs of one program may
    differ in it); this option declares final_learning_rate inert where the decay is off."""

    final_learning_rate: float


# ---- Normalize-and-Project (nap; rlscale.agents.nap) ----


@dataclasses.dataclass(frozen=True)
class Unprojected:
    """nap=false: the networks as configured, weights free to grow."""

    def normalised(self, net: str, options: dict[str, Any]) -> dict[str, Any]:
        return options


@dataclasses.dataclass(frozen=True)
class NaP:
    """nap=true (Lyle et al. 2024): LayerNorm before every nonlinearity of the actor and critic
    where the network lacks it (mlp, softmoe; bronet has it already), and every kernel projected
    back onto its initial norm after each step."""

    def normalised(self, net: str, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "layer_norm": True} if net in ("mlp", "softmoe") else options

    def problems(self, flat: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
        for key in ("critic_net", "actor_net"):
            if flat[key] == "simbav2":
                yield (
                    ("nap", key),
                    (
                        f"nap=true with {key}=simbav2: SimbaV2 already projects its weights onto "
                        "the unit sphere; NaP applies to mlp, softmoe and bronet networks"
                    ),
                )


# ---- BRO's exploration (optimistic) ----


@dataclasses.dataclass(frozen=True)
class Conservative:
    """optimistic=false (P2's bro_minimal): data from the conservative actor, no duals."""


@dataclasses.dataclass(frozen=True)
class Optimism:
    """optimistic=true: the dual-tuned optimistic actor and its settings."""

    kl_target: float
    std_multiplier: float
    init_optimism: float
    init_kl_weight: float
    dual_learning_rate: float
