"""The agent contract's helpers and cases (tests/test_agents_contract.py): `vmap(update)` over runs
equals the runs one by one, finite metrics, actions in bounds and the critic parameter count
against its closed form. `CASES` are the small agent configs those checks run on; `UpdateRuns`
(the session fixture `agent_runs` of tests/conftest.py) builds each case's `UpdateRun` once per
session, so the contract and the agent-specific tests (test_agents_sac.py,
_bro.py, _simbav2.py, _schedules.py) read the same runs. Also the counting agent the driver tests
(test_loop.py, test_host_loop.py) check schedules with.

Compile time dominates these tests on a CPU, so `run_updates` compiles exactly two programs per
agent (the vmapped update and the single-run update) and everything else reads its results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rlscale.agents.base import Agent, Resets
from rlscale.types import Transition

OBS, ACT = 3, 1
TRACES: list[str] = []  # appended when a counting agent's update is traced
RESET_MARK = 1000  # what a counting agent's reset adds to its count


class CountHParams(NamedTuple):
    learning_rate: float = 0.1


class CountState(NamedTuple):
    params: jax.Array
    count: jax.Array
    hparams: CountHParams


@dataclasses.dataclass(frozen=True)
class CountConfig:
    obs_size: int
    action_size: int


def make_counting_agent(
    config: CountConfig,
    hparams: CountHParams = CountHParams(),  # noqa: B008 (an immutable NamedTuple)
    reset_at: tuple[int, ...] = (),
    on_reset: Callable | None = None,
) -> Agent:
    """An agent that only counts its updates (brax's call-counting test env, for agents), for
    the drivers' schedules. Its resets at `reset_at` add RESET_MARK to the count and call
    `on_reset(count)` each time one is executed."""

    def init(key, hp=None):
        return CountState(jnp.zeros(()), jnp.zeros((), jnp.int32), hp or hparams)

    def act(params, obs, key, deterministic):
        return jnp.zeros((*obs.shape[:-1], config.action_size))

    def update(state, batch, key):
        TRACES.append("update")  # runs at trace time only
        return state._replace(count=state.count + 1), {"critic/loss": jnp.mean(batch.reward)}

    def reset(state, key):
        jax.debug.callback(on_reset, state.count)
        return state._replace(count=state.count + RESET_MARK)

    resets = Resets(reset_at, reset) if reset_at else None
    return Agent(init, act, update, hparams, config, lambda state: 1, resets=resets)


def make_batch(
    key: jax.Array, obs_size: int = OBS, action_size: int = ACT, size: int = 16
) -> Transition:
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return Transition(
        jax.random.normal(k1, (size, obs_size)),
        jax.random.uniform(k2, (size, action_size), minval=-1, maxval=1),
        -jax.random.uniform(k3, (size,)) * 5,
        jax.random.normal(k4, (size, obs_size)),
        jnp.zeros(size),
    )


def stack(trees: list) -> Any:
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def unstack(tree: Any, i: int) -> Any:
    return jax.tree.map(lambda x: x[i], tree)


class UpdateRun(NamedTuple):
    """`updates` updates of `runs` runs, each with its own key, batch (and hyperparameters)."""

    agent: Agent
    states: list  # stacked over runs: the initial states, then the states after each update
    metrics: list  # stacked over runs: the metrics of each update
    separate_states: list  # [run][step], the same runs updated one by one
    separate_metrics: list  # [run][update]
    batches: Transition  # stacked over runs
    update: Callable  # the compiled single-run update, for more calls at the same shapes


def run_updates(
    agent: Agent,
    runs: int = 2,
    updates: int = 2,
    hparams: list | None = None,
    obs_size: int = OBS,
    action_size: int = ACT,
    prepare: Callable[[Any], Any] | None = None,
) -> UpdateRun:
    """Init `runs` runs (vmapped), then `updates` updates of them vmapped and one by one.

    hparams: per-run hyperparameter NamedTuples (a vmapped sweep), or None for the defaults.
    prepare: stacked initial states -> stacked states to update from (e.g. after an observer).

    The hyperparameters go in as float32 arrays, as the runner stacks them
    (rlscale/training/runner.py initial_inputs): from Python floats `init` made weakly typed
    leaves (SAC's log_alpha and its Adam moments) that the first update returns strongly typed,
    so both update programs compiled twice (measured: jax_explain_cache_misses).
    """
    keys = jax.random.split(jax.random.key(0), runs)
    init = jax.jit(jax.vmap(agent.init))  # compiled: about half the time of eager on a CPU
    per_run = hparams if hparams is not None else [agent.hparams] * runs
    states = init(keys, jax.tree.map(lambda *xs: jnp.asarray(xs, jnp.float32), *per_run))
    if prepare is not None:
        states = prepare(states)
    batches = jax.vmap(lambda k: make_batch(k, obs_size, action_size))(keys)
    update_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    vmapped, single = jax.jit(jax.vmap(agent.update)), jax.jit(agent.update)
    history, metrics = [states], []
    for _ in range(updates):
        states, step_metrics = vmapped(states, batches, update_keys)
        history.append(states)
        metrics.append(step_metrics)
    separate_states, separate_metrics = [], []
    for i in range(runs):
        run_states, run_metrics = [unstack(history[0], i)], []
        for _ in range(updates):
            state, step_metrics = single(run_states[-1], unstack(batches, i), update_keys[i])
            run_states.append(state)
            run_metrics.append(step_metrics)
        separate_states.append(run_states)
        separate_metrics.append(run_metrics)
    return UpdateRun(agent, history, metrics, separate_states, separate_metrics, batches, single)


def assert_vmapped_equals_separate(run: UpdateRun, rtol: float = 2e-4, atol: float = 2e-5) -> None:
    """Every leaf of every state and metric, after every update, for every run."""
    for i, (run_states, run_metrics) in enumerate(
        zip(run.separate_states, run.separate_metrics, strict=True)
    ):
        for step in range(1, len(run.states)):
            got = unstack((run.states[step], run.metrics[step - 1]), i)
            want = (run_states[step], run_metrics[step - 1])
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
                np.testing.assert_allclose(
                    np.asarray(a),
                    np.asarray(b),
                    rtol=rtol,
                    atol=atol,
                    err_msg=f"run {i}, after update {step}",
                )
            assert jax.tree.structure(got) == jax.tree.structure(want)


def assert_finite_metrics_and_bounded_actions(run: UpdateRun) -> None:
    obs_size, action_size = run.agent.config.obs_size, run.agent.config.action_size
    for metrics in run.metrics:
        assert metrics, "update returned no metrics"
        for name, value in metrics.items():
            assert bool(jnp.all(jnp.isfinite(value))), name
    params = unstack(run.states[-1], 0).params
    for deterministic in (True, False):
        action = run.agent.act(params, jnp.ones((5, obs_size)), jax.random.key(1), deterministic)
        assert action.shape == (5, action_size) and action.dtype == jnp.float32
        assert bool(jnp.all(jnp.abs(action) <= 1))


def random_stream(key: jax.Array, steps: int, n_envs: int, obs_size: int = OBS):
    """An env stream for observers: observations far from N(0, 1) (means 4, stds 3, 6, 9, ...),
    rewards N(-2, 1) and dones with probability 0.1, each [steps, n_envs, ...]."""
    k1, k2, k3 = jax.random.split(key, 3)
    scale = 3.0 * jnp.arange(1, obs_size + 1)
    obs = 4.0 + scale * jax.random.normal(k1, (steps, n_envs, obs_size))
    reward = jax.random.normal(k2, (steps, n_envs)) - 2.0
    done = (jax.random.uniform(k3, (steps, n_envs)) < 0.1).astype(jnp.float32)
    return obs, reward, done


def observe_stream(
    agent: Agent, state: Any, obs: jax.Array, reward: jax.Array, done: jax.Array
) -> Any:
    """`agent.observer.init` for n_envs = obs.shape[1] copies, then one `update` per env step."""

    def step(state: Any, inputs: tuple) -> tuple[Any, None]:
        obs_t, reward_t, done_t = inputs
        actions = jnp.zeros((len(obs_t), agent.config.action_size))
        return agent.observer.update(
            state, Transition(obs_t, actions, reward_t, obs_t, done_t), done_t
        ), None

    state = agent.observer.init(state, obs.shape[1])
    return jax.lax.scan(step, state, (obs, reward, done))[0]


def _crossq_critic(d: int, w: int, depth: int, k: int) -> int:
    """CrossQ's BRN MLP: BRN(d), then L x [Dense(in, w), BRN(w)], Dense(w, K); a BRN trains a
    scale and a bias per feature (its running statistics are not parameters)."""
    return 2 * d + (d + 1) * w + (depth - 1) * (w + 1) * w + depth * 2 * w + (w + 1) * k


def expected_critic_params(agent: Agent) -> int:
    """Closed-form parameters of all n_critics critics (the N of the scaling laws, counted as P2
    counts BRO's pair) for the agent's config:
    d = obs + action inputs, w = critic_width, L = critic_depth, K = value-head outputs (1 for
    mse, n_bins for categorical and quantile heads). The SAC-family torsos use the formulas of
    tests/test_nets_components.py, written from the layer definitions in rlscale/nets."""
    from test_nets_components import _formula  # the one copy of the torso formulas

    c = agent.config
    d, w, depth = c.obs_size + c.action_size, c.critic_width, c.critic_depth
    k = 1 if c.value_loss == "mse" else c.n_bins
    if not hasattr(c, "critic_net"):  # CrossQ's config has no critic_net: the BRN MLP
        return c.n_critics * _crossq_critic(d, w, depth, k)
    assert not c.critic_layer_norm, "the mlp formula has no LayerNorm"
    if c.critic_net == "softmoe":  # _formula is written for the default tokens and experts
        assert (c.moe_tokenize, c.moe_experts, c.moe_tokens) == ("chunk", 4, 8)
    return c.n_critics * _formula(c.critic_net, d, w, depth, k)


def assert_critic_param_count(run: UpdateRun) -> None:
    state = unstack(run.states[0], 0)
    assert run.agent.critic_param_count(state) == expected_critic_params(run.agent)


class Case(NamedTuple):
    """A small agent config of the contract and how its `UpdateRun` is made."""

    make: dict[str, Any]  # rlscale.agents.make keyword arguments
    runs: int = 2
    updates: int = 2
    sweep: dict[str, tuple] | None = None  # hyperparameter -> one value per run (vmapped sweep)
    observe: bool = False  # observe a random stream per run first (SimbaV2's statistics)
    rtol: float = 2e-4  # vmapped == separate tolerances
    atol: float = 2e-5


SAC_OBS, SAC_ACT = 3, 2  # the SAC case's shapes (an action dimension above 1)
SAC_LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3)  # the SAC case's sweep, vmapped too
BRO_RESET_AT, BRO_UPDATES = 2, 4  # the BRO case: one reset count inside its four updates
SIMBAV2_ENVS = 2  # env copies of the SimbaV2 case's observed streams

CASES: dict[str, Case] = {
    "sac": Case(
        {"obs_size": SAC_OBS, "action_size": SAC_ACT, "critic_width": 32, "actor_width": 32},
        runs=len(SAC_LEARNING_RATES),
        sweep={"learning_rate": SAC_LEARNING_RATES},
        rtol=2e-5,
        atol=1e-6,
    ),
    "crossq": Case({"critic_width": 32, "actor_width": 16, "renorm_warmup_steps": 2}),
    "sac_softmoe": Case(
        {
            "critic_width": 32,
            "actor_width": 16,
            "critic_net": "softmoe",
            "value_loss": "hl_gauss",
            "n_bins": 21,
        }
    ),
    "bro": Case(
        {
            "critic_width": 16,
            "actor_width": 16,
            "critic_depth": 1,
            "n_bins": 8,
            "reset_env_steps": (),
            "reset_every_updates": BRO_RESET_AT,
        },
        updates=BRO_UPDATES,
    ),
    "simbav2": Case(
        {"critic_width": 16, "actor_width": 16, "critic_depth": 1, "n_bins": 11}, observe=True
    ),
}


def case_agent(name: str) -> Agent:
    """The agent of case `name`: its registry name is the case name up to the first '_'."""
    from rlscale.agents.registry import make

    return make(name.split("_")[0], **{"obs_size": OBS, "action_size": ACT, **CASES[name].make})


def case_run(name: str) -> UpdateRun:
    """Case `name`'s UpdateRun (two compiles); SimbaV2's runs first observe different streams."""
    case, agent = CASES[name], case_agent(name)
    c = agent.config
    hparams = None
    if case.sweep:
        hparams = [
            agent.hparams._replace(**{k: v[i] for k, v in case.sweep.items()})
            for i in range(case.runs)
        ]
    prepare = None
    if case.observe:
        keys = jax.random.split(jax.random.key(5), case.runs)
        streams = jax.vmap(lambda k: random_stream(k, 40, SIMBAV2_ENVS, c.obs_size))(keys)
        observe = jax.vmap(lambda s, o, r, d: observe_stream(agent, s, o, r, d))
        prepare = lambda states: observe(states, *streams)  # noqa: E731
    return run_updates(
        agent, case.runs, case.updates, hparams, c.obs_size, c.action_size, prepare=prepare
    )


class UpdateRuns(dict):
    """Case name -> UpdateRun, each made on first use (the session fixture `agent_runs`)."""

    def __missing__(self, name: str) -> UpdateRun:
        self[name] = case_run(name)
        return self[name]
