"""Environments stepped on the host (dm_control, Gymnasium): episodes and vectors of copies.

A family supplies a `RawEnv` (reset/step with actions in [-1, 1], flat float32 observations).
Action repeat, the time limit, episode returns and auto-reset live here once, mirroring
`rlscale.envs.base.step_episode`, so host and JAX families report truncation the same way. The
true final observation is returned beside the post-reset one, so TD targets bootstrap on
truncation. `ProcessVectorEnv` spreads the copies over worker processes; it pays only when one
step is expensive (see `make_vector`).
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import numpy as np

from rlscale.envs.base import StepOutput


class RawEnv(Protocol):
    def reset(self) -> np.ndarray: ...  # [obs_size] float32; seeded at construction

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        """(obs, reward, terminated, truncated-by-the-env-itself) for one action in [-1, 1]."""
        ...


class HostEnv(NamedTuple):
    """What `rlscale.envs.make` returns for a host family. `make_raw(seed)` must be picklable."""

    name: str
    obs_size: int
    action_size: int
    max_episode_steps: int  # in agent steps, i.e. after action repeat
    action_repeat: int
    make_raw: Callable[[int], RawEnv]


class Episode:
    """One env copy: action repeat, time limit, return bookkeeping and auto-reset."""

    def __init__(self, env: HostEnv, seed: int):
        self.env, self.raw = env, env.make_raw(seed)
        self.reset()

    def reset(self) -> None:
        self.obs, self.time, self.episode_return = self.raw.reset(), 0, 0.0

    def step(self, action: np.ndarray) -> tuple[StepOutput, np.ndarray]:
        """Returns (outcome with the true successor, the observation the next action sees)."""
        reward, terminated, truncated = 0.0, False, False
        for _ in range(self.env.action_repeat):
            next_obs, r, terminated, truncated = self.raw.step(action)
            reward += r
            if terminated or truncated:
                break
        self.time += 1
        truncated = not terminated and (truncated or self.time >= self.env.max_episode_steps)
        self.episode_return += reward
        done = terminated or truncated
        out = StepOutput(
            next_obs,
            reward,
            float(terminated),
            float(truncated),
            self.episode_return if done else 0.0,
        )
        if done:
            self.reset()
        else:
            self.obs = next_obs
        return out, self.obs


def _stack(outputs: Sequence[tuple[StepOutput, np.ndarray]]) -> tuple[StepOutput, np.ndarray]:
    steps = StepOutput(
        *(np.asarray(x, np.float32) for x in zip(*(o for o, _ in outputs), strict=True))
    )
    return steps, np.stack([obs for _, obs in outputs]).astype(np.float32)


class VectorEnv:
    """Copies stepped one after another in this process (cheapest for cheap envs)."""

    def __init__(self, env: HostEnv, seeds: Sequence[int]):
        self.episodes = [Episode(env, int(seed)) for seed in seeds]

    def observe(self) -> np.ndarray:
        return np.stack([e.obs for e in self.episodes]).astype(np.float32)

    def reset(self) -> np.ndarray:
        for episode in self.episodes:
            episode.reset()
        return self.observe()

    def step(self, actions: np.ndarray) -> tuple[StepOutput, np.ndarray]:
        """actions [n, action_size] -> (StepOutput leaves [n, ...], next observations [n, obs])."""
        return _stack([e.step(a) for e, a in zip(self.episodes, actions, strict=True)])

    def close(self) -> None:
        self.episodes = []


def _worker(pipe, env: HostEnv, seeds: Sequence[int]) -> None:
    vector = VectorEnv(env, seeds)
    while True:
        command, payload = pipe.recv()
        if command == "close":
            pipe.close()
            return
        pipe.send(getattr(vector, command)(*payload))


class ProcessVectorEnv:
    """The copies split over `workers` processes, each running a `VectorEnv` of its slice.

    Workers are spawned (not forked) because the parent runs JAX's thread pool.
    """

    def __init__(self, env: HostEnv, seeds: Sequence[int], workers: int):
        context = multiprocessing.get_context("spawn")
        self.slices = [list(s) for s in np.array_split(np.asarray(seeds), workers) if len(s)]
        self.pipes, self.processes = [], []
        for part in self.slices:
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, env, part), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def _call(self, command: str, payloads: Sequence[tuple]) -> list:
        for pipe, payload in zip(self.pipes, payloads, strict=True):
            pipe.send((command, payload))
        return [pipe.recv() for pipe in self.pipes]

    def observe(self) -> np.ndarray:
        return np.concatenate(self._call("observe", [()] * len(self.pipes)))

    def reset(self) -> np.ndarray:
        return np.concatenate(self._call("reset", [()] * len(self.pipes)))

    def step(self, actions: np.ndarray) -> tuple[StepOutput, np.ndarray]:
        bounds = np.cumsum([0] + [len(s) for s in self.slices])
        parts = self._call("step", [(actions[a:b],) for a, b in itertools.pairwise(bounds)])
        steps = StepOutput(*(np.concatenate(x) for x in zip(*(s for s, _ in parts), strict=True)))
        return steps, np.concatenate([obs for _, obs in parts])

    def close(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            pipe.send(("close", ()))
            process.join(timeout=5)
        self.pipes, self.processes = [], []


def make_vector(env: HostEnv, seeds: Sequence[int], workers: int = 0):
    """`workers` processes share the copies; 0 (the default) steps them all in this process."""
    if workers > 1 and len(seeds) > 1:
        return ProcessVectorEnv(env, seeds, min(workers, len(seeds)))
    return VectorEnv(env, seeds)


def copy_seeds(seed: int, count: int, stream: int) -> list[int]:
    """Independent env seeds for `count` copies of one run; `stream` separates train from eval."""
    states = np.random.SeedSequence([seed, stream]).spawn(count)
    return [int(s.generate_state(1)[0]) for s in states]
