"""SAC actor loss and the two temperature-loss forms: hand-worked values and gradients.

Haarnoja et al. 2018 Eq. 7 (actor) and 18 (temperature); the SBX form minimises
log(alpha) (H - H_bar), the CrossQ / SimbaV2 / BRO form alpha (H - H_bar).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlscale.losses.policy import sac_actor_loss, temperature_loss

# Actor: alpha = 0.5, log pi = [-1, 0.5], Q = [2, 3].
#   alpha log pi - Q = [-0.5 - 2, 0.25 - 3] = [-2.5, -2.75]; mean = -2.625.
#   d/d log pi = alpha / B = 0.25 each; d/dQ = -1 / B = -0.5 each; d/d alpha = 0 (stop-gradient:
#   without it, mean(log pi) = -0.25).
ALPHA, LOG_PI, Q = 0.5, [-1.0, 0.5], [2.0, 3.0]


def test_sac_actor_loss_hand_worked():
    """Catches: +Q instead of -Q (2.375), alpha dropped (-2.75), -alpha log pi (-2.375), sum over
    the batch instead of the mean (-5.25)."""
    loss = sac_actor_loss(jnp.array(LOG_PI), jnp.array(Q), jnp.array(ALPHA))
    np.testing.assert_allclose(loss, -2.625, rtol=1e-6)


def test_sac_actor_loss_gradients_and_alpha_is_a_constant():
    """Catches: the stop-gradient on alpha removed (d/d alpha = mean log pi = -0.25, so the actor
    step would also train the temperature); the actor pushed towards lower Q (d/dQ > 0) or lower
    entropy (d/d log pi < 0)."""
    grads = jax.grad(sac_actor_loss, argnums=(0, 1, 2))(
        jnp.array(LOG_PI), jnp.array(Q), jnp.array(ALPHA)
    )
    d_log_pi, d_q, d_alpha = (np.asarray(g) for g in grads)
    np.testing.assert_allclose(d_log_pi, [0.25, 0.25], rtol=1e-6)
    np.testing.assert_allclose(d_q, [-0.5, -0.5], rtol=1e-6)
    assert d_alpha == 0.0


# Temperature: log alpha = ln 2 (alpha = 2), H_bar = -2.
#   H = 1 (above target), gap = 3:   SBX loss ln2 * 3 = 2.0794, d/d log alpha = gap = 3;
#                                    alpha form 2 * 3 = 6,      d/d log alpha = alpha gap = 6.
#   H = -3 (below target), gap = -1: SBX loss -ln2 = -0.6931,   d/d log alpha = -1;
#                                    alpha form -2,             d/d log alpha = -2.
# Gradient descent lowers log alpha when H > H_bar (positive gradient) and raises it when
# H < H_bar (negative gradient), in both forms.
LOG_ALPHA, TARGET = float(np.log(2.0)), -2.0
TEMPERATURE_CASES = [
    # (on_log_alpha, entropy, loss, d/d log alpha)
    (True, 1.0, 3 * np.log(2.0), 3.0),
    (False, 1.0, 6.0, 6.0),
    (True, -3.0, -np.log(2.0), -1.0),
    (False, -3.0, -2.0, -2.0),
]


@pytest.mark.parametrize(("on_log_alpha", "entropy", "loss", "grad"), TEMPERATURE_CASES)
def test_temperature_loss_hand_worked(on_log_alpha, entropy, loss, grad):
    """Catches: the gap's sign flipped (H_bar - H: every value and gradient negated, so alpha
    grows when the policy is already too random), the two forms swapped (on_log_alpha choosing
    exp(log alpha)), and alpha in place of log alpha in the SBX form."""
    args = (jnp.array(LOG_ALPHA), jnp.array(entropy), jnp.array(TARGET), on_log_alpha)
    np.testing.assert_allclose(temperature_loss(*args), loss, rtol=1e-5)
    np.testing.assert_allclose(jax.grad(temperature_loss)(*args), grad, rtol=1e-5)


@pytest.mark.parametrize("on_log_alpha", [True, False])
def test_temperature_step_raises_alpha_below_target_and_lowers_it_above(on_log_alpha):
    """Catches: the gap's sign flipped; one SGD step (lr 0.1) must move log alpha up when H < H_bar
    and down when H > H_bar."""

    def step(entropy):
        grad = jax.grad(temperature_loss)(
            jnp.array(LOG_ALPHA), jnp.array(entropy), jnp.array(TARGET), on_log_alpha
        )
        return float(LOG_ALPHA - 0.1 * grad)

    assert step(-3.0) > LOG_ALPHA  # too little entropy: more temperature
    assert step(1.0) < LOG_ALPHA  # too much entropy: less temperature


@pytest.mark.parametrize("on_log_alpha", [True, False])
def test_temperature_loss_does_not_train_the_policy(on_log_alpha):
    """Catches: the stop-gradient on the entropy gap removed. The agents pass H = -mean(log pi)
    from the actor's pass; without it d/d log pi = -scale / B (here -ln2/2 or -1) and the
    temperature loss would push the policy's entropy (and d/d H_bar would be -scale)."""

    def through_log_pi(log_pi, target):
        return temperature_loss(jnp.array(LOG_ALPHA), -jnp.mean(log_pi), target, on_log_alpha)

    d_log_pi, d_target = jax.grad(through_log_pi, argnums=(0, 1))(
        jnp.array([-1.0, 0.5]), jnp.array(TARGET)
    )
    np.testing.assert_array_equal(d_log_pi, [0.0, 0.0])
    assert d_target == 0.0
