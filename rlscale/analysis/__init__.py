"""Scaling-law analysis of value-based RL runs (Rybkin et al. 2025 "P1", Fu et al. 2025 "P2").

    load.load(path) -> tidy frame -> pipeline.run(tidy, recipe) -> types.Analysis
      -> report.write_report(analysis, out)   fits.json, tables, plots, index page
      -> propose.propose(fits, budget)         the sweep the fits recommend
    validate.run_all()                         the authors' published numbers, reproduced

No JAX here: analysis runs on any machine that has the runs.
"""
