"""Environments by name, `<family>:<name>`: `jax:pendulum`, `brax:halfcheetah`,
`playground:CheetahRun` (JAX, on device) and `dmc:cheetah-run`, `gym:HalfCheetah-v5` (host).

`make` returns a `JaxEnv` for device families and a `HostEnv` for host families; the runner
dispatches on `is_host`. Family modules import their simulator lazily, so naming an env costs
nothing until it is built.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from rlscale.envs.base import JaxEnv
from rlscale.envs.brax import brax_names, make_brax
from rlscale.envs.dmc import dmc_names, make_dmc
from rlscale.envs.gym import gym_names, make_gym
from rlscale.envs.host import HostEnv
from rlscale.envs.pendulum import make_pendulum
from rlscale.envs.playground import make_playground, playground_names

JAX_ENVS = {"pendulum": make_pendulum}
HOST_FAMILIES = ("dmc", "gym")
FAMILIES = ("jax", "brax", "playground", *HOST_FAMILIES)
EXTRAS = {"dmc": "dmc", "playground": "playground", "brax": "brax"}  # family -> pip extra
NAMES: dict[str, Callable[[], list[str]]] = {
    "jax": lambda: sorted(JAX_ENVS),
    "brax": brax_names,
    "playground": playground_names,
    "dmc": dmc_names,
    "gym": gym_names,
}


def _unknown(kind: str, name: str, valid: list[str]) -> ValueError:
    close = difflib.get_close_matches(name, valid, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    shown = valid if len(valid) <= 60 else [*valid[:60], f"... {len(valid) - 60} more"]
    return ValueError(f"unknown {kind} {name!r}{hint}; valid: {shown}")


def check_name(name: str) -> None:
    """Raise a ValueError for a name no family provides, before anything is built."""
    family, _, rest = name.partition(":")
    if family not in FAMILIES or not rest:
        raise _unknown("env family in", name, [f"{f}:<name>" for f in FAMILIES])
    try:
        valid = NAMES[family]()
    except ImportError as error:
        extra = EXTRAS.get(family, family)
        raise ValueError(
            f"env {name!r} needs the {family!r} family's simulator, which is not "
            f"installed ({error}); pip install 'rlscale[{extra}]'"
        ) from None
    if rest not in valid:
        raise _unknown(f"{family} env", rest, [f"{family}:{v}" for v in valid])


def check_action_repeat(name: str, action_repeat: int) -> None:
    """Raise a ValueError for an action repeat the env's family cannot apply (jax, brax: only 1)."""
    if name.partition(":")[0] in ("jax", "brax") and action_repeat > 1:
        raise ValueError(
            f"{name}: action_repeat={action_repeat} is supported on dmc, gym and "
            "playground envs only"
        )


def is_host(name: str) -> bool:
    """True for families stepped on the host (trained by the host driver, not the compiled loop)."""
    return name.partition(":")[0] in HOST_FAMILIES


def make(
    name: str, max_episode_steps: int | None = None, action_repeat: int = 0
) -> JaxEnv | HostEnv:
    """Build env `name`. max_episode_steps: None = the family default; action_repeat: 0 = the
    family default (2 on DMC and Playground, 1 elsewhere; the jax and brax families take only 1)."""
    check_name(name)
    check_action_repeat(name, action_repeat)
    family, rest = name.split(":", 1)
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    if family == "jax":
        return JAX_ENVS[rest](**kwargs)
    if family == "brax":
        return make_brax(rest, **kwargs)
    maker = {"dmc": make_dmc, "gym": make_gym, "playground": make_playground}[family]
    return maker(rest, max_episode_steps, action_repeat)


__all__ = ["FAMILIES", "HostEnv", "JaxEnv", "check_name", "is_host", "make"]
