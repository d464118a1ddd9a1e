"""SAC actor and temperature losses.

Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications", Eq. 7 and 18.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sac_actor_loss(log_prob: jax.Array, q_value: jax.Array, alpha: jax.Array) -> jax.Array:
    """J_pi = E[alpha * log pi(a~|s) - Q(s, a~)], a~ reparameterised.

    Args:
        log_prob: [B] log pi(a~|s). q_value: [B] critic value of a~ (already reduced over the
        ensemble). alpha: scalar temperature, treated as a constant here.
    """
    return jnp.mean(jax.lax.stop_gradient(alpha) * log_prob - q_value)


def temperature_loss(
    log_alpha: jax.Array, entropy: jax.Array, target_entropy: jax.Array, on_log_alpha: bool
) -> jax.Array:
    """Dual loss pushing the policy entropy H towards the target H_bar.

    Two forms are used in the official code (science/agents.md section 1): SBX SAC minimises
    log(alpha) * (H - H_bar); CrossQ, SimbaV2 and BRO minimise alpha * (H - H_bar). Both lower alpha
    when H > H_bar; the gradients differ by a factor alpha.

    Args:
        log_alpha: scalar parameter. entropy: scalar batch estimate -mean log pi (no gradient).
        target_entropy: scalar H_bar. on_log_alpha: True for the SBX form.
    """
    gap = jax.lax.stop_gradient(entropy - target_entropy)
    scale = log_alpha if on_log_alpha else jnp.exp(log_alpha)
    return scale * gap
