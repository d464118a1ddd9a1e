"""Soft Actor-Critic (Haarnoja et al. 2018) with clipped double-Q, as pure functions.

Defaults follow SBX SAC (science/agents.md section 2.1). Networks (`critic_net`, `actor_net`), the
value loss (`value_loss` + support), the ensemble rule, weight projection and update order are
config, so SimbaV2, SAC+SoftMoE and BRO reuse these steps (`make_sac_steps`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rlscale.agents.base import Agent, adam, adamw, apply_gradients, count_params
from rlscale.agents.domains import (
    AdamBeta,
    DecayUpdates,
    Discount,
    FiniteFloat,
    Flag,
    NonNegativeFloat,
    PolyakRate,
    PositiveFloat,
    PositiveInt,
    one_of,
)
from rlscale.agents.nap import NaPOptimizer
from rlscale.agents.networks import make_networks, projector
from rlscale.agents.streams import with_stream_statistics
from rlscale.losses.policy import sac_actor_loss, temperature_loss
from rlscale.losses.robust import ROBUST_FORMS
from rlscale.losses.td import global_norm, polyak, td_target
from rlscale.losses.value import ENSEMBLE_RULES, HEADS, reduce_members
from rlscale.nets.bodies import BODIES
from rlscale.nets.policy import LOG_STD_MODES, sample_tanh_gaussian
from rlscale.nets.softmoe import TOKENIZATIONS
from rlscale.types import Params, PRNGKey, Transition

Net, ValueLoss, LogStd = one_of(*BODIES), one_of(*HEADS), one_of(*LOG_STD_MODES)
EnsembleRule, Tokenize = one_of(*ENSEMBLE_RULES), one_of(*TOKENIZATIONS)
RobustForm = one_of(*ROBUST_FORMS)


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Static, shape-setting configuration (hashable; changing it means a new compiled program).

    Each hint is the field's value domain (rlscale.agents.domains); which fields a variant reads
    is in rlscale.agents.variants."""

    obs_size: PositiveInt
    action_size: PositiveInt
    critic_width: PositiveInt = 256  # hidden units per critic layer (N scales with width^2)
    critic_depth: PositiveInt = 2  # hidden layers (mlp/softmoe) or residual blocks (bronet/simbav2)
    actor_width: PositiveInt = 256
    actor_depth: PositiveInt = 2
    n_critics: PositiveInt = 2  # ensemble size
    critic_layer_norm: Flag = False  # LayerNorm before each critic activation (mlp only)
    critic_net: Net = "mlp"  # a name in rlscale.nets.bodies.BODIES
    actor_net: Net = "mlp"  # a name in rlscale.nets.bodies.BODIES
    value_loss: ValueLoss = "mse"  # a name in rlscale.losses.value.HEADS
    v_min: FiniteFloat = -10.0  # categorical support (hl_gauss/two_hot/c51); fixed under scaling
    v_max: FiniteFloat = 10.0
    n_bins: PositiveInt = 101  # categorical bins, or quantiles for value_loss=quantile
    robust: RobustForm = "semi_gradient"  # value_loss=huber: semi_gradient or saddle_point
    huber_delta: PositiveFloat = 1.0  # value_loss=huber: quadratic inside |TD error| <= this
    target_rule: EnsembleRule = "min"  # ensemble rule for target and actor: min (CDQ), mean (BRO)
    moe_experts: PositiveInt = 4  # softmoe: experts (each Dense(width)-ReLU-Dense(token))
    moe_tokens: PositiveInt = 8  # softmoe: tokens per sample (chunk tokens: width / tokens each)
    moe_tokenize: Tokenize = "chunk"  # softmoe: chunk (hidden-vector chunks), feature (per input)
    actor_log_std: LogStd = "clip"  # clip to [-20, 2] (SBX) or tanh into [-10, 2] (SimbaV2, BRO)
    # SimbaV2's stream statistics (rlscale.agents.streams), for any SAC variant:
    reward_scaling: Flag = False  # r / max(std(G), max|G| / g_max), G the running return
    reward_g_max: PositiveFloat = 5.0  # SimbaV2 normalized_g_max: bound on |scaled return|
    obs_norm: Flag = False  # RSNorm: (o - mean) / sqrt(var + 1e-8) with running moments
    actor_first: Flag = False  # SimbaV2 order actor -> alpha -> critic -> target
    nap: Flag = False  # Normalize-and-Project actor and critic (rlscale.agents.nap)
    adam_b1: AdamBeta = 0.9  # actor and critic Adam beta1
    weight_decay: NonNegativeFloat = 0.0  # > 0: AdamW (BRO) for actor and critic
    temperature_b1: AdamBeta = 0.9  # temperature Adam beta1 (BRO: 0.5)
    temperature_on_log_alpha: Flag = True  # SBX log(alpha)*(H-H_bar); False: alpha*(H-H_bar)


class SACHParams(NamedTuple):
    """Scalar hyperparameters: array leaves, vmappable across runs of one compiled program."""

    learning_rate: PositiveFloat = 3e-4  # actor, critic and temperature (Adam)
    gamma: Discount = 0.99  # discount
    tau: PolyakRate = 0.005  # Polyak rate of the target critic, every update
    target_entropy_scale: FiniteFloat = 1.0  # H_bar = -scale * action_size
    init_temperature: PositiveFloat = 1.0  # alpha at step 0
    final_learning_rate: NonNegativeFloat = 0.0  # linear decay target (SimbaV2 5e-5)
    # updates of the linear decay; 0 = constant learning rate, -1 = the run's own update count
    lr_decay_updates: DecayUpdates = 0.0


class SACState(NamedTuple):
    actor_params: Params
    critic_params: Params
    target_critic_params: Params
    log_alpha: jax.Array
    actor_opt_state: object
    critic_opt_state: object
    alpha_opt_state: object
    hparams: SACHParams
    step: jax.Array

    @property
    def params(self) -> Params:
        """What `act` needs: the actor's variables."""
        return self.actor_params


def learning_rate(hp: SACHParams, step: jax.Array) -> jax.Array:
    """Constant, or linear from learning_rate to final_learning_rate over lr_decay_updates
    (SimbaV2 `optax.linear_schedule`)."""
    fraction = jnp.clip(step / jnp.maximum(hp.lr_decay_updates, 1.0), 0.0, 1.0)
    decayed = hp.learning_rate + fraction * (hp.final_learning_rate - hp.learning_rate)
    return jnp.where(hp.lr_decay_updates > 0, decayed, hp.learning_rate)


class SACSteps(NamedTuple):
    init: Any
    act: Any
    critic_step: Any
    actor_step: Any
    temperature_step: Any
    finish: Any  # (state, metrics) -> state, metrics: Polyak, step count, common metrics
    critic: Any  # the ensemble critic module
    actor: Any
    head: Any
    optimizer: Any


def make_sac_steps(config: SACConfig, hparams: SACHParams) -> SACSteps:
    """SAC's init/act and its update steps, each `(state, batch, key) -> (state, metrics)`."""
    head, actor, critic = make_networks(config)
    optimizer = (
        adamw(config.adam_b1, config.weight_decay) if config.weight_decay else adam(config.adam_b1)
    )
    optimizer = NaPOptimizer(optimizer) if config.nap else optimizer
    alpha_optimizer = adam(config.temperature_b1)
    project_actor, project_critic = projector(config.actor_net), projector(config.critic_net)
    reduce_q = jnp.min if config.target_rule == "min" else jnp.mean

    def init(key: PRNGKey, hp: SACHParams | None = None) -> SACState:
        hp = jax.tree.map(jnp.asarray, hp if hp is not None else hparams)
        key_actor, key_critic = jax.random.split(key)
        obs, action = jnp.zeros((1, config.obs_size)), jnp.zeros((1, config.action_size))
        actor_params = project_actor(actor.init(key_actor, obs))
        critic_params = project_critic(critic.init(key_critic, obs, action))
        log_alpha = jnp.log(hp.init_temperature)
        return SACState(
            actor_params,
            critic_params,
            critic_params,
            log_alpha,
            optimizer.init(actor_params),
            optimizer.init(critic_params),
            alpha_optimizer.init(log_alpha),
            hp,
            jnp.zeros((), jnp.int32),
        )

    def act(params: Params, obs: jax.Array, key: PRNGKey, deterministic: bool) -> jax.Array:
        mean, log_std = actor.apply(params, obs)
        if deterministic:
            return jnp.tanh(mean)
        return sample_tanh_gaussian(mean, log_std, key)[0]

    def sample(params: Params, obs: jax.Array, key: PRNGKey) -> tuple[jax.Array, jax.Array]:
        return sample_tanh_gaussian(*actor.apply(params, obs), key)

    def critic_step(state: SACState, batch: Transition, key: PRNGKey):
        hp, alpha, reward = state.hparams, jnp.exp(state.log_alpha), batch.reward
        next_action, next_log_prob = sample(state.actor_params, batch.next_obs, key)
        next_outputs = reduce_members(
            head,
            critic.apply(state.target_critic_params, batch.next_obs, next_action),
            config.target_rule,
        )
        bonus = -alpha * next_log_prob
        # The TD target is formed once; the head turns it into its own target representation.
        target = jax.lax.stop_gradient(
            head.target(next_outputs, reward, hp.gamma, batch.terminated, bonus)
        )
        y = td_target(reward, hp.gamma, batch.terminated, head.value(next_outputs) + bonus)

        def loss_fn(params):
            outputs = critic.apply(params, batch.obs, batch.action)  # [n_critics, B, n_outputs]
            per_sample = jax.vmap(head.loss, in_axes=(0, None))(outputs, target)
            return per_sample.mean(axis=1).sum(), head.value(outputs)

        (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic_params)
        params, opt_state = apply_gradients(
            optimizer,
            state.critic_opt_state,
            state.critic_params,
            grads,
            learning_rate(hp, state.step),
        )
        metrics = {
            "critic/loss": loss,
            "critic/td_error": jnp.mean(jnp.abs(q - jax.lax.stop_gradient(y))),
            "critic/q_mean": jnp.mean(q),
        }
        state = state._replace(critic_params=project_critic(params), critic_opt_state=opt_state)
        return state, metrics

    def actor_step(state: SACState, batch: Transition, key: PRNGKey):
        alpha = jnp.exp(state.log_alpha)

        def loss_fn(params):
            action, log_prob = sample(params, batch.obs, key)
            q = reduce_q(head.value(critic.apply(state.critic_params, batch.obs, action)), axis=0)
            return sac_actor_loss(log_prob, q, alpha), -jnp.mean(log_prob)

        (loss, entropy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.actor_params)
        params, opt_state = apply_gradients(
            optimizer,
            state.actor_opt_state,
            state.actor_params,
            grads,
            learning_rate(state.hparams, state.step),
        )
        state = state._replace(actor_params=project_actor(params), actor_opt_state=opt_state)
        return state, {"actor/loss": loss, "actor/entropy": entropy}

    def temperature_step(state: SACState, entropy: jax.Array) -> SACState:
        hp = state.hparams
        target_entropy = -hp.target_entropy_scale * config.action_size
        grad = jax.grad(temperature_loss)(
            state.log_alpha, entropy, target_entropy, config.temperature_on_log_alpha
        )
        log_alpha, opt_state = apply_gradients(
            alpha_optimizer,
            state.alpha_opt_state,
            state.log_alpha,
            grad,
            learning_rate(hp, state.step),
        )
        return state._replace(log_alpha=log_alpha, alpha_opt_state=opt_state)

    def finish(state: SACState, metrics: dict) -> tuple[SACState, dict]:
        # SimbaV2 leaves the target unprojected after Polyak averaging (science/agents.md 4.4).
        target = polyak(state.target_critic_params, state.critic_params, state.hparams.tau)
        state = state._replace(target_critic_params=target, step=state.step + 1)
        return state, {
            **metrics,
            "actor/temperature": jnp.exp(state.log_alpha),
            "critic/param_norm": global_norm(state.critic_params),
        }

    return SACSteps(
        init, act, critic_step, actor_step, temperature_step, finish, critic, actor, head, optimizer
    )


def make_sac(config: SACConfig, hparams: NamedTuple = SACHParams()) -> Agent:
    """Build SAC's pure functions for `config`; `hparams` are the defaults `init` falls back on
    (SACHParams' fields). With `obs_norm` or `reward_scaling` the agent keeps statistics of the
    env stream (rlscale.agents.streams)."""
    if config.obs_norm or config.reward_scaling:
        core = dataclasses.replace(config, obs_norm=False, reward_scaling=False)
        return with_stream_statistics(
            make_sac(core, SACHParams(**hparams._asdict())), config, hparams
        )
    steps = make_sac_steps(config, hparams)

    def update(state: SACState, batch: Transition, key: PRNGKey):
        key_critic, key_actor = jax.random.split(key)
        if config.actor_first:  # SimbaV2: the critic's targets use the new actor and alpha
            state, actor_metrics = steps.actor_step(state, batch, key_actor)
            state = steps.temperature_step(state, actor_metrics["actor/entropy"])
            state, critic_metrics = steps.critic_step(state, batch, key_critic)
        else:
            state, critic_metrics = steps.critic_step(state, batch, key_critic)
            state, actor_metrics = steps.actor_step(state, batch, key_actor)
            state = steps.temperature_step(state, actor_metrics["actor/entropy"])
        return steps.finish(state, {**critic_metrics, **actor_metrics})

    def critic_param_count(state: SACState) -> int:
        return count_params(state.critic_params)

    return Agent(steps.init, steps.act, update, hparams, config, critic_param_count)
