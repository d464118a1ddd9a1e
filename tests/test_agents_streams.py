"""Stream statistics (SimbaV2's reward scaling and observation RSNorm) on any SAC variant: the
wrapped agent's update is the plain agent's update on the normalised batch."""

import jax
import jax.numpy as jnp
import numpy as np
from agent_checks import ACT, OBS, make_batch

from rlscale.agents.normalization import normalize, reward_scale
from rlscale.agents.registry import make
from rlscale.config import load_run_config

KEYS = {"critic_width": 16, "actor_width": 16, "value_loss": "hl_gauss", "n_bins": 11}


def test_sac_with_reward_scaling_updates_as_plain_sac_on_the_scaled_batch():
    """Catches: rewards reaching the critic unscaled, or scaled by the wrong statistics."""
    scaled = make("sac", obs_size=OBS, action_size=ACT, reward_scaling=True, obs_norm=True, **KEYS)
    plain = make("sac", obs_size=OBS, action_size=ACT, **KEYS)
    key = jax.random.key(0)
    state = scaled.observer.init(scaled.init(key), 1)
    for t in range(20):  # a stream of large rewards: the return scale grows far above 1
        batch = make_batch(jax.random.fold_in(key, t), size=1)
        state = scaled.observer.update(
            state, batch._replace(reward=batch.reward * 100), jnp.zeros(1)
        )
    divisor = reward_scale(state.return_stats, 5.0)
    assert float(divisor) > 10.0
    batch = make_batch(jax.random.fold_in(key, 99))
    new, metrics = jax.jit(scaled.update)(state, batch, key)
    by_hand = batch._replace(
        obs=normalize(state.obs_stats, batch.obs),
        next_obs=normalize(state.obs_stats, batch.next_obs),
        reward=batch.reward / divisor,
    )
    expected, _ = jax.jit(plain.update)(state.sac, by_hand, key)
    np.testing.assert_allclose(float(metrics["critic/reward_scale"]), float(divisor), rtol=1e-6)
    for got, want in zip(jax.tree.leaves(new.sac), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_softmoe_preset_scales_rewards_onto_its_support():
    """The HL-Gauss support of the SoftMoE preset is ±g_max: without reward scaling it would clip
    every target beyond it (pendulum's returns reach -1600)."""
    config = load_run_config("agents/sac_softmoe.yaml", {})
    assert config["reward_scaling"] is True
    assert (config["v_min"], config["v_max"]) == (-config["reward_g_max"], config["reward_g_max"])
