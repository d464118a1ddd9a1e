"""`rlscale analyze`, `rlscale propose` and `rlscale validate` (`rlscale.analysis`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlscale.analysis import load
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.recipe import load_recipe
from rlscale.provenance import write_result

# report (matplotlib), propose (scikit-learn) and validate are imported by their commands: every
# `rlscale sweep` process (each sweep worker, each Ray job) then starts ~4 s sooner.


def register(commands: argparse._SubParsersAction) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="fit the P1/P2 scaling laws to a sweep and write a report",
        description="Data to threshold, B*/η*(σ), D_J(σ), compute frontier, budget-optimal σ*, "
        "P2 σ x N laws; writes fits.json, tables, plots and an index page.",
    )
    analyze.add_argument("path", help="rlscale sweep/run dir, or published runs (zip or dir)")
    analyze.add_argument(
        "--layout",
        default="auto",
        choices=load.LAYOUTS,
        help="layout of PATH (default: detected from file names)",
    )
    analyze.add_argument(
        "--recipe", default=None, help="analysis recipe YAML (default: analysis/default.yaml)"
    )
    analyze.add_argument("--out", default="report", help="report directory (default: report)")
    analyze.set_defaults(func=_analyze)

    proposer = commands.add_parser(
        "propose",
        help="write the sweep the fits recommend for a budget F = C + δ·D",
        description="Reads fits.json from `rlscale analyze` and writes a ready-to-run sweep spec "
        "with the recommended (σ, B, η[, width]) and the env steps the budget buys.",
    )
    proposer.add_argument("--fits", required=True, help="fits.json written by `rlscale analyze`")
    proposer.add_argument("--budget", required=True, type=float, help="budget F in FLOPs")
    proposer.add_argument("--env", default=None, help="only this env (default: every env)")
    proposer.add_argument("--seeds", type=int, default=5, help="seeds per config (default: 5)")
    proposer.add_argument(
        "--out",
        default=None,
        help="spec YAML path (default: sweeps/proposed-<budget>.yaml); with "
        "several envs one file per env, suffixed with the env name",
    )
    proposer.set_defaults(func=_propose)

    validator = commands.add_parser(
        "validate", help="reproduce the authors' published fits from their published data"
    )
    validator.add_argument(
        "--data",
        default=None,
        help="published data dir (default: shared/data beside the repository)",
    )
    validator.set_defaults(func=_validate)


def _analyze(args: argparse.Namespace) -> int:
    """Exit 1 when nothing at all could be analysed."""
    from rlscale.analysis import report, summary

    analysis, index = report.analyze(args.path, load_recipe(args.recipe), args.out, args.layout)
    lines = summary.summary_lines(analysis)
    # The command line and versions beside the report, so a committed report names its command.
    made = {"path": args.path, "layout": args.layout, "recipe": args.recipe, "summary": lines}
    write_result(args.out, "provenance", {**made, "messages": analysis.messages})
    for line in lines:
        print(line)
    for message in analysis.messages:
        print(f"note: {message}")
    print(f"report: {index}")
    return 0 if analysis.curves else 1


def _propose(args: argparse.Namespace) -> int:
    """Exit 1 when the fits cannot support a proposal (a stage they need is missing)."""
    from rlscale.analysis import propose

    fits = json.loads(Path(args.fits).read_text())
    try:
        specs = propose.propose(fits, args.budget, args.env, args.seeds)
    except (AnalysisError, KeyError) as error:
        print(f"error: cannot propose from {args.fits}: {error}")
        return 1
    for path, spec in zip(propose.write_specs(specs, args.out), specs, strict=True):
        print(
            f"{path}: {spec['env']} σ={spec['grid']['utd'][0]} B={spec['grid']['batch_size'][0]}"
            f" env_steps={spec['budget']['env_steps']}"
        )
    return 0


def _validate(args: argparse.Namespace) -> int:
    """Exit 1 if any number is outside its tolerance, or if nothing could be validated."""
    from rlscale.analysis import validate

    try:
        checks = validate.run_all(Path(args.data) if args.data else validate.DATA)
    except FileNotFoundError as error:
        print(f"validated nothing: {error}")
        return 1
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.passed]
    print(f"{len(checks) - len(failed)}/{len(checks)} reproduced within tolerance")
    return 1 if failed or not checks else 0
