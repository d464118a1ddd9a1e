"""Robust Bellman losses (rlscale.losses.robust): hand-worked losses and gradients of each form,
and the property the saddle point exists for: on noisy targets it converges to the expected
value, where the semi-gradient Huber loss converges to a robust location (Patterson et al. 2022)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlscale.config import ConfigError, resolve
from rlscale.losses.robust import huber
from rlscale.losses.value import make_value_head
from rlscale.nets.mlp import MLP, Critic


def test_huber_is_quadratic_inside_and_linear_outside():
    errors = jnp.array([0.5, 3.0, -3.0])
    # 0.5 * 0.5^2 = 0.125; 1 * (3 - 0.5) = 2.5 on both sides.
    np.testing.assert_allclose(huber(errors, 1.0), [0.125, 2.5, 2.5])


def _loss_and_grad(name: str, outputs, y, **options):
    head = make_value_head(name, **options)
    loss = lambda o: head.loss(o[None], jnp.array([y]))[0]  # noqa: E731
    return float(loss(jnp.array(outputs))), np.asarray(jax.grad(loss)(jnp.array(outputs)))


def test_semi_gradient_losses_of_the_sampled_td_error():
    # Q = 1, y = 4: Huber(1) of 3 is 2.5 with dL/dQ = -1; |3| = 3 with dL/dQ = -1.
    loss, grad = _loss_and_grad("huber", [1.0], 4.0)
    assert loss == pytest.approx(2.5) and grad == pytest.approx([-1.0])
    loss, grad = _loss_and_grad("huber", [3.5], 4.0, huber_delta=1.0)
    assert loss == pytest.approx(0.125) and grad == pytest.approx([-0.5])  # inside: -(y - Q)
    loss, grad = _loss_and_grad("absolute", [1.0], 4.0)
    assert loss == pytest.approx(3.0) and grad == pytest.approx([-1.0])


def test_saddle_point_huber_pushes_q_by_the_clipped_h_and_regresses_h_on_the_td_error():
    # Q = 1, h = 0.5, y = 4: δ = 3; loss = clip(0.5)·3 + ½(0.5 - 3)^2 = 1.5 + 3.125.
    # dL/dQ = -clip(h) = -0.5 (δ is held fixed for h); dL/dh = h - δ = -2.5.
    loss, grad = _loss_and_grad("huber", [1.0, 0.5], 4.0, robust="saddle_point")
    assert loss == pytest.approx(4.625) and grad == pytest.approx([-0.5, -2.5])
    # h = 5 is outside |h| <= 1: Q is pushed by 1, not 5.
    _, grad = _loss_and_grad("huber", [1.0, 5.0], 4.0, robust="saddle_point")
    assert grad[0] == pytest.approx(-1.0)


def _fixed_point(robust: str) -> float:
    """Q (and h) of one state by gradient descent on targets 0 (p = .9) and 10 (p = .1):
    E[y] = 1. Huber(1)'s semi-gradient stationary point solves .9·(-Q) + .1·1 = 0: Q = 1/9."""
    head = make_value_head("huber", robust=robust, huber_delta=1.0)
    targets = jnp.array([0.0] * 9 + [10.0])
    loss = lambda o: jnp.mean(head.loss(jnp.broadcast_to(o, (10, o.size)), targets))  # noqa: E731
    step = jax.jit(lambda o: o - 0.05 * jax.grad(loss)(o))
    outputs = jnp.zeros(head.n_outputs)
    for _ in range(3000):
        outputs = step(outputs)
    return float(head.value(outputs))


def test_the_saddle_point_finds_the_expected_value_where_semi_gradient_huber_is_biased():
    assert _fixed_point("semi_gradient") == pytest.approx(1 / 9, abs=0.01)
    assert _fixed_point("saddle_point") == pytest.approx(1.0, abs=0.01)


def test_robust_keys_are_read_only_with_their_loss():
    assert resolve({"agent": "sac", "value_loss": "huber", "robust": "saddle_point"})["robust"]
    with pytest.raises(ConfigError, match="huber_delta is read only when value_loss=huber"):
        resolve({"agent": "sac", "value_loss": "absolute", "huber_delta": 2.0})
    for loss in ("mse", "absolute"):  # absolute is semi-gradient only (rlscale.losses.robust)
        with pytest.raises(ConfigError, match="robust is read only when value_loss=huber"):
            resolve({"agent": "sac", "value_loss": loss, "robust": "saddle_point"})
    with pytest.raises(ConfigError, match="semi_gradient"):
        resolve({"agent": "crossq", "value_loss": "huber", "robust": "saddle_point"})


def test_the_saddle_points_h_is_read_from_features_it_does_not_train():
    # Mutation caught: h as a plain second output, whose regression on δ reshapes Q's torso
    # (measured on jax:pendulum: the policy did not learn in 6k steps).
    critic = Critic(MLP(8, 2), n_outputs=2, n_detached=1)
    obs, action = jnp.ones((4, 3)), jnp.ones((4, 1))
    params = critic.init(jax.random.key(0), obs, action)
    for column, torso_trained in ((0, True), (1, False)):
        grads = jax.grad(lambda p, c=column: critic.apply(p, obs, action)[:, c].sum())(params)
        torso = grads["params"]["torso"]
        assert any(bool(jnp.any(g != 0)) for g in jax.tree.leaves(torso)) == torso_trained
