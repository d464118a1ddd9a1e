"""Two groups on the CPU: one after the other in one process (today's run_local) against two
processes at once, with quickstart-sized groups (sweeps/quickstart.yaml: width 64, 3 seeds, 6000
steps; its first two groups, utd 1 and 2 at batch 64). Not CI; on a shared machine the numbers
are distorted by other load (the load average is recorded with them):

    python benchmarks/host_concurrency.py

Writes benchmarks/results/host_concurrency/<cores>cores.json and .md via rlscale.provenance.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUP = """
import json, sys, time
from rlscale.sweeps.execute import plan
from rlscale.sweeps.spec import load_sweep
from rlscale.training.runner import run_group
groups = plan(load_sweep("sweeps/quickstart.yaml"))
for index in json.loads(sys.argv[1]):
    start = time.perf_counter()
    result = run_group(groups[index], progress=False)
    print("GROUP", index, time.perf_counter() - start, result.compile_seconds, flush=True)
"""


def _start(indices: list[int]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    return subprocess.Popen(
        [sys.executable, "-c", GROUP, json.dumps(indices)], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE,
    )  # fmt: skip


def _wall(processes: list[subprocess.Popen]) -> tuple[float, float]:
    """Wall seconds until every process ended, and the CPU seconds they used: on a shared
    machine the wall favours more processes (each gets its share of the cores), the CPU time
    does not."""
    start, used = time.perf_counter(), _children_cpu()
    for process in processes:
        process.communicate()
        assert process.returncode == 0
    return time.perf_counter() - start, _children_cpu() - used


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    from rlscale.provenance import write_result

    load_before = os.getloadavg()[0]
    one_at_a_time, one_cpu = _wall([_start([0, 1])])
    two_at_once, two_cpu = _wall([_start([0]), _start([1])])
    data = {
        "one_at_a_time_s": one_at_a_time,
        "two_processes_s": two_at_once,
        "speedup": one_at_a_time / two_at_once,
        "one_at_a_time_cpu_s": one_cpu,
        "two_processes_cpu_s": two_cpu,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "cores": os.cpu_count(),
    }
    table = (
        "| two quickstart groups | wall s | CPU s |\n| --- | --- | --- |\n"
        f"| one after the other, one process | {one_at_a_time:.1f} | {one_cpu:.1f} |\n"
        f"| two processes at once | {two_at_once:.1f} | {two_cpu:.1f} |\n\n"
        f"Speedup {data['speedup']:.2f}x on {data['cores']} cores; load average "
        f"{load_before:.1f} before, {data['load_average_after']:.1f} after (other processes)."
    )
    write_result(
        ROOT / "benchmarks" / "results" / "host_concurrency", f"{data['cores']}cores", data, table
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.path.insert(1, str(ROOT))
    sys.exit(main())
