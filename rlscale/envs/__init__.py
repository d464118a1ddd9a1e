"""Environments by name, `<family>:<name>`: `jax:pendulum`, `brax:halfcheetah`."""

from __future__ import annotations

import difflib

from rlscale.envs.base import JaxEnv
from rlscale.envs.brax import brax_names, make_brax
from rlscale.envs.pendulum import make_pendulum

JAX_ENVS = {"pendulum": make_pendulum}
FAMILIES = ("jax", "brax")


def _unknown(kind: str, name: str, valid: list[str]) -> ValueError:
    close = difflib.get_close_matches(name, valid, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ValueError(f"unknown {kind} {name!r}{hint}; valid: {valid}")


def check_name(name: str) -> None:
    """Raise a ValueError for a name no family provides, before anything is built."""
    family, _, rest = name.partition(":")
    if family not in FAMILIES or not rest:
        raise _unknown("env family in", name, [f"{f}:<name>" for f in FAMILIES])
    valid = sorted(JAX_ENVS) if family == "jax" else brax_names()
    if rest not in valid:
        raise _unknown(f"{family} env", rest, [f"{family}:{v}" for v in valid])


def make(name: str, max_episode_steps: int | None = None) -> JaxEnv:
    check_name(name)
    family, rest = name.split(":", 1)
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    if family == "jax":
        return JAX_ENVS[rest](**kwargs)
    return make_brax(rest, **kwargs)


__all__ = ["FAMILIES", "JaxEnv", "check_name", "make"]
