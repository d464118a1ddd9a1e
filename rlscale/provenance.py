"""One writer for committed result files (benchmarks, device checks, agent curves, reproductions):
each file states the command line, package versions and device that made it, so a number quoted
in the README can be traced to the run behind it. Result files are never edited by hand."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("rlscale", "jax", "jaxlib", "flax", "optax", "numpy", "mujoco")


def provenance(command: list[str] | None = None, device: str | None = None) -> dict[str, Any]:
    """What made a result: the command line, versions, device and time (UTC)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "command": shlex.join(
            command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]]
        ),
        "versions": {"python": platform.python_version(), **versions},
        "device": device or _device(),
        "machine": f"{platform.machine()}, {_cores()} cores",
        "written": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _device() -> str:
    if "jax" not in sys.modules:  # the analysis side never imports JAX for this
        return "none (no JAX computation)"
    import jax

    first = jax.devices()[0]
    return f"{first.platform}: {first.device_kind} x{jax.device_count()}"


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def write_result(folder: str | Path, name: str, data: dict[str, Any], table: str = "") -> Path:
    """Write `<folder>/<name>.json` (the data with its provenance) and, if `table` is given,
    `<folder>/<name>.md` (the table under a header naming the command); returns the JSON path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = provenance()
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"provenance": made, **data}, indent=1, default=float) + "\n")
    if table:
        versions = ", ".join(f"{k} {v}" for k, v in made["versions"].items())
        header = (
            f"<!-- written by `{made['command']}` on {made['written']}; {made['device']}, "
            f"{made['machine']}; {versions}. Do not edit: rerun the command. -->\n"
        )
        (folder / f"{name}.md").write_text(header + table.rstrip() + "\n")
    return path
