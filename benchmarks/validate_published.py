"""Reproduce the authors' published scaling-law numbers from their published data.

Same as `rlscale validate`: python benchmarks/validate_published.py [--data ../shared/data]
Exit 0 when every number is within tolerance or the data is absent (skipped, with a message).
"""

import argparse
import sys

from rlscale.analysis import commands, validate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(validate.DATA), help="published data dir")
    sys.exit(commands.run_validate(parser.parse_args()))
