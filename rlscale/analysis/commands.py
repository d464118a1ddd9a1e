"""`rlscale analyze | propose | validate`: argparse wiring only (parse, call the library, print).

`cli.py` calls `register(subparsers)`; each command's function takes the parsed args and returns the
process exit code.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import yaml

from rlscale.analysis import load, pipeline, propose, report, validate
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.recipe import load_recipe


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the analysis subcommands to an argparse subparsers object."""
    analyze = subparsers.add_parser(
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
    analyze.set_defaults(func=run_analyze)

    proposer = subparsers.add_parser(
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
    proposer.set_defaults(func=run_propose)

    validator = subparsers.add_parser(
        "validate", help="reproduce the authors' published fits from their published data"
    )
    validator.add_argument(
        "--data", default=str(validate.DATA), help=f"published data dir (default: {validate.DATA})"
    )
    validator.set_defaults(func=run_validate)


def run_analyze(args: argparse.Namespace) -> int:
    """Load, analyse, write the report; exit 1 when nothing at all could be analysed."""
    try:
        recipe = load_recipe(args.recipe)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}")
        return 2
    analysis = pipeline.Analysis(recipe, str(args.path))
    try:
        tidy = load.load(args.path, args.layout)
    except FileNotFoundError as error:
        analysis.messages.append(f"load: {error}")
    else:
        analysis = pipeline.run(tidy, recipe, str(args.path))
    index = report.write_report(analysis, args.out)
    for line in report.summary_lines(analysis):
        print(line)
    for message in analysis.messages:
        print(f"note: {message}")
    print(f"report: {index}")
    return 0 if analysis.curves else 1


def run_propose(args: argparse.Namespace) -> int:
    """Write one sweep spec per env for the budget."""
    fits = json.loads(Path(args.fits).read_text())
    try:
        specs = propose.propose(fits, args.budget, args.env, args.seeds)
    except (AnalysisError, KeyError) as error:
        print(f"error: cannot propose from {args.fits}: {error}")
        return 1
    default = Path("sweeps") / f"{specs[0]['name']}.yaml" if specs else None
    out = Path(args.out) if args.out else default
    for spec in specs:
        path = (
            out
            if len(specs) == 1
            else out.with_name(
                f"{out.stem}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', spec['env'])}{out.suffix}"
            )
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        notes = spec.pop("notes")
        header = "".join(f"# {note}\n" for note in notes)
        path.write_text(header + yaml.safe_dump(spec, sort_keys=False))
        print(
            f"{path}: {spec['env']} σ={spec['grid']['utd'][0]} B={spec['grid']['batch_size'][0]}"
            f" env_steps={spec['budget']['env_steps']}"
        )
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """Print every reproduced number; exit 1 if any is outside its tolerance."""
    try:
        checks = validate.run_all(Path(args.data))
    except FileNotFoundError as error:
        print(f"skipped: {error}")
        return 0
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.passed]
    print(f"{len(checks) - len(failed)}/{len(checks)} reproduced within tolerance")
    return 1 if failed else 0
