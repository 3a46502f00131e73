"""Command line: ``python -m proofs_checks --profile ci|full --report FILE``.

Exits with status 1 when any check fails, 0 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys

from .calibrators import CALIBRATORS
from .profiles import PROFILES
from .report import format_table
from .suite import run_suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m proofs_checks",
        description="Check the RACER lemmas and theorems by Monte Carlo on every available JAX device.",
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ci",
                        help="which settings and trial counts to run (default: ci)")
    parser.add_argument("--report", type=pathlib.Path, help="write the JSON report to this file")
    parser.add_argument("--seed", type=int, default=0, help="base seed; setting i uses seed + i (default: 0)")
    parser.add_argument("--calibrator", choices=sorted(CALIBRATORS), default="library",
                        help="calibrator under test; the others are deliberately broken (default: library)")
    parser.add_argument("--setting", action="append", default=[],
                        help="run only settings whose name contains this text (repeatable)")
    args = parser.parse_args(argv)

    profile = PROFILES[args.profile]
    if args.setting:
        chosen = tuple(s for s in profile.settings if any(text in s.name for text in args.setting))
        if not chosen:
            names = ", ".join(s.name for s in profile.settings)
            parser.error(f"no setting matches {args.setting}; settings are: {names}")
        profile = dataclasses.replace(profile, settings=chosen)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = run_suite(profile, CALIBRATORS[args.calibrator], args.seed, progress)
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
