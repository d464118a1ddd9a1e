"""BRO, Bigger Regularized Optimistic (Nauman et al. 2024, NeurIPS, Sec. 3): SAC with BroNet actor
and critic, a non-pessimistic quantile critic, AdamW, full resets and a dual-tuned optimistic
exploration actor. Defaults: `naumix/BiggerRegularizedOptimistic` `configs/bro_default.py`,
`jaxrl/bro/*` (science/agents.md section 7). The SAC steps are reused (`make_sac_steps`).

With `optimistic=False` and resets every 2.5M updates it is P2's learner, `model_scaling`'s
`jaxrl/agents/bro_minimal` (science/scaling_laws.md section 5), the `bro_minimal` preset.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from rlscale.agents.base import Agent, Resets, adam, adamw, apply_gradients, count_params
from rlscale.agents.domains import (
    DecayUpdates,
    Discount,
    EnvSteps,
    FiniteFloat,
    Flag,
    NonNegativeFloat,
    NonNegativeInt,
    PolyakRate,
    PositiveFloat,
    exp_between,
    one_of,
)
from rlscale.agents.sac import SACConfig, SACHParams, SACState, learning_rate, make_sac_steps
from rlscale.nets.bronet import BroNet
from rlscale.nets.orthogonal import orthogonal
from rlscale.nets.policy import sample_tanh_gaussian
from rlscale.types import Params, PRNGKey, Transition

# BRO's full resets, in env steps (`train_parallel.py`): at every σ but 2, where only the first.
BRO_RESET_STEPS = (15001, 50001, 250001, 500001, 750001, 1000001, 1500001, 2000001)


@dataclasses.dataclass(frozen=True)
class BROConfig(SACConfig):
    """SACConfig with BRO's defaults plus the optimism and reset settings."""

    critic_width: int = 512  # BroNet width (BRC scales this to 4096)
    critic_depth: int = 2  # BroNet residual blocks
    actor_width: int = 256
    actor_depth: int = 1
    critic_net: str = "bronet"
    actor_net: str = "bronet"
    value_loss: QuantileOrMSE = "quantile"  # optimistic_value reads quantiles (or scalars)
    n_bins: int = 100  # quantiles
    target_rule: str = "mean"  # pessimism 0: average of the two critics
    actor_log_std: str = "tanh"
    weight_decay: float = 1e-4  # optax.adamw default
    temperature_b1: float = 0.5
    temperature_on_log_alpha: bool = False  # alpha * (H - H_bar)
    optimistic: Flag = True  # the dual-tuned optimistic exploration actor (False: bro_minimal)
    reset_env_steps: EnvSteps = BRO_RESET_STEPS  # full resets after these env steps
    reset_env_steps_at_utd_2: EnvSteps = BRO_RESET_STEPS[:1]  # ... at σ = 2 instead
    reset_every_updates: NonNegativeInt = 0  # and after every this many updates (0: never)
    kl_target: PositiveFloat = 0.05  # per action dim KL(optimistic || conservative) target
    std_multiplier: PositiveFloat = 0.75  # optimistic sigma = 0.75 conservative sigma


# Domains of BRO fields (BROConfig names QuantileOrMSE above: its hints are read lazily).
QuantileOrMSE = one_of("quantile", "mse")
DualValue = exp_between(-10.0, 7.5, "a dual's initial value (the range of _dual_value)")


class BROHParams(NamedTuple):
    learning_rate: PositiveFloat = 3e-4  # actor, critic (AdamW), temperature (Adam b1 0.5)
    gamma: Discount = 0.99
    tau: PolyakRate = 0.005
    target_entropy_scale: FiniteFloat = 0.5  # H_bar = -dim(A)/2
    init_temperature: PositiveFloat = 1.0
    final_learning_rate: NonNegativeFloat = 0.0  # unused (constant learning rate)
    lr_decay_updates: DecayUpdates = 0.0
    init_optimism: DualValue = 1.0  # beta_opt at init
    init_kl_weight: DualValue = 0.25  # tau_KL at init
    dual_learning_rate: PositiveFloat = 3e-5  # Adam b1 0.5 for beta_opt and tau_KL


class BROState(NamedTuple):
    sac: SACState
    optimistic_params: Params
    optimistic_opt_state: object
    duals: jax.Array  # raw [beta_opt, tau_KL], mapped by _dual_value
    duals_opt_state: object
    step: jax.Array

    @property
    def params(self) -> Params:
        """Conservative actor (evaluation) and optimistic shift network (data collection)."""
        return {"actor": self.sac.actor_params, "optimistic": self.optimistic_params}


class OptimisticShift(nn.Module):
    """BroNet(256, 1) on [s, mu_c(s)] -> Dense(|A|, orthogonal(0.01), no bias).

    The optimistic mean is mu_o = mu_c + shift.
    """

    width: int
    action_size: int

    @nn.compact
    def __call__(self, obs: jax.Array, mean: jax.Array) -> jax.Array:
        x = BroNet(self.width, 1)(jnp.concatenate([obs, mean], axis=-1))
        init = orthogonal(0.01)  # LAPACK-free: see rlscale.nets.orthogonal
        return nn.Dense(self.action_size, use_bias=False, kernel_init=init)(x)


def optimistic_value(quantiles: jax.Array, beta: jax.Array) -> jax.Array:
    """BRO's upper bound Q_ub = mean_j [(Z1_j + Z2_j)/2 + beta |Z1_j - Z2_j| / 2].

    The disagreement is taken per quantile, then averaged (`jaxrl/bro/actor.py`): two critics with
    equal means but different quantiles still disagree.

    Args:
        quantiles: [n_critics, batch, n_quantiles]; the first and last critic are compared.
        beta: the optimism coefficient beta_opt.
    Returns:
        [batch] upper bounds.
    """
    mean = quantiles.mean(axis=(0, -1))
    return mean + beta * jnp.mean(jnp.abs(quantiles[0] - quantiles[-1]), axis=-1) / 2


def _dual_value(raw: jax.Array) -> jax.Array:
    """exp(-10 + 17.5 * 0.5 (1 + tanh(raw))) in [e^-10, e^7.5] (BRO `temperature.py`)."""
    return jnp.exp(-10.0 + 17.5 * 0.5 * (1.0 + jnp.tanh(raw)))


def _dual_raw(value: jax.Array) -> jax.Array:
    return jnp.arctanh(2.0 * (jnp.log(value) + 10.0) / 17.5 - 1.0)


def make_bro(config: BROConfig, hparams: BROHParams = BROHParams()) -> Agent:
    """Build BRO: SAC steps (critic -> actor -> alpha -> Polyak) plus the optimistic actor, its
    duals and resets."""
    sac_hparams = SACHParams(**{name: getattr(hparams, name) for name in SACHParams._fields})
    steps = make_sac_steps(config, sac_hparams)
    shift_net = OptimisticShift(config.actor_width, config.action_size)
    # The optimistic actor is trained like the conservative one: optax.adamw defaults.
    optimizer = adamw(config.adam_b1, config.weight_decay)
    dual_optimizer = adam(0.5)

    def init(key: PRNGKey, hp: BROHParams | None = None) -> BROState:
        hp = jax.tree.map(jnp.asarray, hp if hp is not None else hparams)
        key_sac, key_shift = jax.random.split(key)
        sac = steps.init(key_sac, hp)
        obs, mean = jnp.zeros((1, config.obs_size)), jnp.zeros((1, config.action_size))
        shift_params = shift_net.init(key_shift, obs, mean)
        duals = _dual_raw(jnp.stack([hp.init_optimism, hp.init_kl_weight]))
        return BROState(
            sac,
            shift_params,
            optimizer.init(shift_params),
            duals,
            dual_optimizer.init(duals),
            sac.step,
        )

    def optimistic_policy(params: Params, obs: jax.Array) -> tuple[jax.Array, ...]:
        mean_c, log_std_c = jax.lax.stop_gradient(steps.actor.apply(params["actor"], obs))
        shift = shift_net.apply(params["optimistic"], obs, mean_c)
        return mean_c + shift, log_std_c + jnp.log(config.std_multiplier), shift, log_std_c

    def act(params: Params, obs: jax.Array, key: PRNGKey, deterministic: bool) -> jax.Array:
        if deterministic or not config.optimistic:  # the conservative actor
            return steps.act(params["actor"], obs, key, deterministic)
        mean, log_std, _, _ = optimistic_policy(params, obs)  # data collection: optimistic
        return sample_tanh_gaussian(mean, log_std, key)[0]

    def optimistic_step(state: BROState, batch: Transition, key: PRNGKey):
        """-mean(Q_ub) + tau_KL mean(KL), Q_ub from `optimistic_value`; then the duals:
        L(beta) = beta (KL/|A| - target), L(tau) = -tau (KL/|A| - target)."""
        beta, kl_weight = _dual_value(state.duals)

        def loss_fn(shift_params):
            params = {"actor": state.sac.actor_params, "optimistic": shift_params}
            mean, log_std, shift, log_std_c = optimistic_policy(params, batch.obs)
            action, _ = sample_tanh_gaussian(mean, log_std, key)
            quantiles = steps.critic.apply(state.sac.critic_params, batch.obs, action)
            upper = optimistic_value(quantiles, beta)
            kl = jnp.sum(shift**2 / (2 * jnp.exp(2 * log_std_c)), axis=-1)
            return -jnp.mean(upper) + kl_weight * jnp.mean(kl), jnp.mean(kl)

        (loss, kl), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.optimistic_params)
        lr = learning_rate(state.sac.hparams, state.sac.step)  # the actors' own schedule
        params, opt_state = apply_gradients(
            optimizer, state.optimistic_opt_state, state.optimistic_params, grads, lr
        )
        gap = jax.lax.stop_gradient(kl / config.action_size - config.kl_target)
        dual_grad = jax.grad(lambda raw: jnp.sum(_dual_value(raw) * jnp.stack([gap, -gap])))(
            state.duals
        )
        duals, duals_state = apply_gradients(
            dual_optimizer,
            state.duals_opt_state,
            state.duals,
            dual_grad,
            state.sac.hparams.dual_learning_rate,
        )
        state = state._replace(
            optimistic_params=params,
            optimistic_opt_state=opt_state,
            duals=duals,
            duals_opt_state=duals_state,
        )
        beta, kl_weight = _dual_value(duals)
        return state, {
            "optimism/loss": loss,
            "optimism/kl": kl,
            "optimism/beta": beta,
            "optimism/kl_weight": kl_weight,
        }

    def update(state: BROState, batch: Transition, key: PRNGKey):
        key_critic, key_actor, key_optimism = jax.random.split(key, 3)
        sac, critic_metrics = steps.critic_step(state.sac, batch, key_critic)
        sac, actor_metrics = steps.actor_step(sac, batch, key_actor)
        state, optimism_metrics = state._replace(sac=sac), {}
        if config.optimistic:
            state, optimism_metrics = optimistic_step(state, batch, key_optimism)
        sac = steps.temperature_step(state.sac, actor_metrics["actor/entropy"])
        sac, metrics = steps.finish(sac, {**critic_metrics, **actor_metrics, **optimism_metrics})
        return state._replace(sac=sac, step=sac.step), metrics

    def reset(state: BROState, key: PRNGKey) -> BROState:
        """Every network, optimiser and dual afresh, buffer kept (BRO `bro_learner.py`). Both update
        counters survive: the schedule reads them, and zeroing would re-arm the same reset."""
        new = init(key, state.sac.hparams)
        return new._replace(sac=new.sac._replace(step=state.sac.step), step=state.step)

    def reset_steps(utd: float) -> tuple[int, ...]:
        return config.reset_env_steps_at_utd_2 if utd == 2 else config.reset_env_steps

    def critic_param_count(state: BROState) -> int:
        return count_params(state.sac.critic_params)

    return Agent(
        init,
        act,
        update,
        hparams,
        config,
        critic_param_count,
        resets=Resets((), reset, config.reset_every_updates, reset_steps),
    )
