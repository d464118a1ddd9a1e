"""Normalize-and-Project (rlscale.agents.nap): kernels stay on their initial norms through
updates that move them off it without NaP, LayerNorm is inserted where the network lacks it, the
vmapped update equals the runs one by one, and SimbaV2 (already projected) is refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agent_checks import assert_vmapped_equals_separate, run_updates

from rlscale.agents import registry
from rlscale.agents.nap import project
from rlscale.config import ConfigError, resolve

SMALL = {"critic_width": 16, "actor_width": 16, "obs_size": 3, "action_size": 1}
# A learning rate 100x SAC's, so three Adam steps turn every kernel far from where it started
# (asserted), which off the sphere would change its norm by far more than the 1e-6 allowed.
FAST = {"learning_rate": 3e-2}
NETS = {"mlp": {}, "softmoe": {"moe_tokens": 4}}  # bronet's projection is the same code path


def _kernels(params) -> list[np.ndarray]:
    """Every Dense kernel, as float64 [..., in, out]."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    return [np.asarray(x, np.float64) for path, x in leaves if path[-1].key == "kernel"]


def _frobenius(kernel: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(kernel**2, axis=(-2, -1)))


@pytest.fixture(scope="module", params=["mlp"])  # softmoe's projection is the same code
def nap_run(request):
    net = request.param
    agent = registry.make("sac", **SMALL, critic_net=net, **NETS[net], **FAST, nap=True)
    return net, run_updates(agent, runs=2, updates=3)


def test_kernel_norms_stay_at_their_initial_values_while_the_kernels_turn(nap_run):
    net, run = nap_run
    for field in ("actor_params", "critic_params"):
        start = _kernels(getattr(run.states[0], field))
        for state in run.states[1:]:
            for before, after in zip(start, _kernels(getattr(state, field)), strict=True):
                np.testing.assert_allclose(_frobenius(after), _frobenius(before), rtol=1e-6)
        # Guards the assertion above: the updates moved every kernel by > 1% of its norm, so
        # without the projection its norm would have moved too.
        for before, after in zip(start, _kernels(getattr(run.states[-1], field)), strict=True):
            assert np.min(_frobenius(after - before) / _frobenius(before)) > 1e-2, (net, field)


def test_vmapped_update_equals_separate_updates(nap_run):
    assert_vmapped_equals_separate(nap_run[1])


def _layer_norms(params) -> int:
    return sum("LayerNorm" in jax.tree_util.keystr(path) for path, _ in _leaves(params))


def _leaves(params):
    return jax.tree_util.tree_flatten_with_path(params)[0]


def _initial_shapes(net: str, extra: dict, nap: bool):
    agent = registry.make("sac", **SMALL, critic_net=net, **extra, nap=nap)
    return jax.eval_shape(agent.init, jax.random.key(0))  # the tree's structure, no compute


def test_nap_inserts_layer_norm_where_the_network_lacks_it():
    # sac's defaults have no LayerNorm (critic_layer_norm false, mlp actor); nap adds it to both,
    # and to softmoe's MLP and experts; bronet has it before every ReLU already, so nothing.
    for net, extra in [*NETS.items(), ("bronet", {})]:
        count = {
            nap: {
                field: _layer_norms(getattr(state, field))
                for field in ("critic_params", "actor_params")
            }
            for nap in (True, False)
            for state in [_initial_shapes(net, extra, nap)]
        }
        assert count[True]["actor_params"] > count[False]["actor_params"] == 0, net
        grows = count[True]["critic_params"] > count[False]["critic_params"]
        assert grows == (net != "bronet"), (net, count)


def test_project_rescales_each_member_on_its_own():
    # A stacked [2, 2, 2] kernel (two ensemble members): each gets its own norm; biases untouched.
    kernel = jnp.stack([jnp.eye(2) * 3.0, jnp.ones((2, 2))])
    params = {"Dense_0": {"kernel": kernel, "bias": jnp.ones((2, 2)) * 7.0}}
    norms = {"Dense_0": {"kernel": jnp.array([1.0, 4.0]), "bias": jnp.zeros(())}}
    out = project(params, norms)["Dense_0"]
    np.testing.assert_allclose(out["kernel"][0], jnp.eye(2) / np.sqrt(2.0), rtol=1e-6)
    np.testing.assert_allclose(out["kernel"][1], jnp.full((2, 2), 2.0), rtol=1e-6)
    np.testing.assert_array_equal(out["bias"], params["Dense_0"]["bias"])


def test_nap_with_simbav2_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="nap=true with critic_net=simbav2"):
        resolve({"agent": "simbav2", "nap": True})
    assert resolve({"agent": "sac", "nap": True})["nap"] is True
