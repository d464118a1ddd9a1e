"""Device check (issue 15): one command that measures what an accelerator does for rlscale.

    python benchmarks/device_check.py                 # full sizes, <= 6 min on one H100/H200
    python benchmarks/device_check.py --smoke         # the same code paths at tiny sizes on CPU
    python benchmarks/device_check.py --deterministic # with deterministic GPU ops (XLA flag)

Sections, each written to the result file as soon as it is done (a timed-out run keeps them):
- correctness: first-update losses of the same seeds and batch on the CPU and on the device, at
  each matmul precision (relative difference; goal <= 1e-4 at `highest`), and a short SAC run on
  jax:pendulum with several seeds on both, its final returns compared by Welch's two-sided t-test
  (agree when p >= 0.01);
- scaling: vmapped SAC groups (width 256, batch 256, sigma 1): updates/s per run and in aggregate,
  wall of 64 runs / wall of 1 (goal <= 2), achieved FLOP/s against a matmul measured on the same
  device at the same precision, and what each precision level does to the speed;
- envs: env steps/s of a training run (SAC, many env copies, small sigma so stepping dominates)
  against the bare env stepped with random actions (goal >= 50%), and both compile times;
- memory: the largest group of width-1024 SimbaV2 the planner plans for one device against the
  largest that runs (doubling from the plan until the device runs out of memory).
Writes benchmarks/results/device/<device>.json and .md (via rlscale.provenance), and copies both
to --out (the device tool's $OUT) when given. Sections past --budget-s, or not named by --only
(a rerun in a second lease), are skipped and listed; a section that fails is recorded and the
others still run (exit status 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "device"
SECTION_NAMES = ("correctness", "scaling", "envs_in_loop", "memory")  # device_sections.SECTIONS


@dataclasses.dataclass(frozen=True)
class Sizes:
    groups: tuple[int, ...] = (1, 8, 64, 256)
    width: int = 256
    batch: int = 256
    steps: int = 3000  # scaling runs: 2000 updates after 1000 warm-up steps
    warmup: int = 1000
    levels: tuple[str, ...] = ("highest", "high", "default")
    level_group: int = 64  # the group size the precision levels are timed at
    seeds: int = 5  # the short SAC run, per backend
    sac_steps: int = 6000
    sac_width: int = 64
    envs: tuple[str, ...] = ("brax:hopper", "playground:CheetahRun")
    env_copies: int = 64
    env_steps: int = 32_000  # 500 iterations of the 64 copies
    episode: int = 50  # max_episode_steps: keeps the loop's one eval episode short
    simba_width: int = 1024
    simba_buffer: int = 100_000
    probes: int = 2  # group sizes tried from the plan upwards
    memory_gb: float | None = None  # None: the device's own memory
    matmul: int = 8192


SMOKE = Sizes(
    groups=(1, 2),
    width=8,
    batch=8,
    steps=96,
    warmup=32,
    levels=("highest",),
    level_group=2,
    seeds=2,
    sac_steps=96,
    sac_width=8,
    envs=("jax:pendulum",),
    env_copies=2,
    env_steps=64,
    episode=16,
    simba_width=8,
    simba_buffer=64,
    probes=1,
    memory_gb=0.02,  # a few tiny SimbaV2 runs (4 MiB each, headroom included)
    matmul=128,
)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on CPU (CI)")
    parser.add_argument("--deterministic", action="store_true", help="deterministic GPU ops")
    parser.add_argument("--budget-s", type=float, default=330.0, help="skip sections after this")
    parser.add_argument("--results", default=str(RESULTS), help="folder of the result files")
    parser.add_argument("--out", default=os.environ.get("OUT"), help="also copy the files here")
    parser.add_argument(
        "--only", nargs="+", choices=SECTION_NAMES, help="run these sections (a second lease)"
    )
    return parser.parse_args()


def main() -> int:
    args = _parse()
    if args.deterministic:  # before JAX starts: XLA reads its flags once per process
        os.environ["XLA_FLAGS"] = (
            f"{os.environ.get('XLA_FLAGS', '')} --xla_gpu_deterministic_ops=true"
        )
    if args.smoke:
        os.environ["JAX_PLATFORMS"] = "cpu"
    import device_sections as sections  # beside this script
    import jax

    from rlscale.provenance import write_result
    from rlscale.training import precision

    sizes = SMOKE if args.smoke else Sizes()
    device = jax.devices()[0]
    name = ("smoke-" if args.smoke else "") + device.device_kind.lower().replace(" ", "-")
    data = {
        "device": device.device_kind,
        "platform": device.platform,
        "deterministic": precision.deterministic(),
        "smoke": args.smoke,
        "sizes": dataclasses.asdict(sizes),
        "skipped": [],
        "failed": {},
    }
    deadline = time.perf_counter() + args.budget_s
    path = write_result(args.results, name, data, sections.table(data))
    for section in sections.SECTIONS:
        if time.perf_counter() > deadline or (args.only and section.__name__ not in args.only):
            data["skipped"].append(section.__name__)
            continue
        start = time.perf_counter()
        try:
            data[section.__name__] = section(sizes)
        except Exception as error:  # recorded, and the other sections still run
            traceback.print_exc()
            data["failed"][section.__name__] = f"{type(error).__name__}: {str(error)[:300]}"
        print(f"{section.__name__}: {time.perf_counter() - start:.1f}s", flush=True)
        path = write_result(args.results, name, data, sections.table(data))
    path = write_result(args.results, name, data, sections.table(data))  # the skipped ones too
    print(sections.table(data))
    if args.out:
        for suffix in (".json", ".md"):
            shutil.copy(path.with_suffix(suffix), Path(args.out) / path.with_suffix(suffix).name)
    return 1 if data["failed"] else 0


if __name__ == "__main__":
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # rlscale from this checkout
    sys.exit(main())
