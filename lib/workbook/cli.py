"""The ``workbook`` command: run one notebook, run them all, write the summary.

    workbook run NOTEBOOK --profile P [-p key=value ...] [--timeout S]
    workbook run-all --profile P [-p key=value ...] [--only NB ...]
    workbook summary
    workbook site [--out DIR]
    workbook student [--out DIR]
    workbook list

Exit status: 0 when every run passed, 1 when a notebook failed or timed out, 2 for bad input (unknown notebook,
profile or parameter, wrong type), reported as one line before anything runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from workbook.params import PROFILES, ParameterError, list_notebooks, parse_override
from workbook.paths import results_root


def _overrides(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        key, value = parse_override(item)
        out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``workbook`` command."""
    p = argparse.ArgumentParser(prog="workbook", description="Run the rlvr-workbook notebooks headless.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="results root (default: $WORKBOOK_RESULTS_DIR or <repo>/results)")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--profile", default="cpu", help=f"one of {', '.join(PROFILES)} (default: cpu)")
        sp.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                        help="override a parameter (value parsed as YAML); repeatable")
        sp.add_argument("--timeout", type=float, default=None, help="per-notebook timeout in seconds")

    r = sub.add_parser("run", help="execute one notebook through papermill")
    r.add_argument("notebook", help="notebook name, e.g. quickstart")
    common(r)
    ra = sub.add_parser("run-all", help="execute every notebook; one failure never stops the rest")
    ra.add_argument("--only", nargs="+", default=None, help="run only these notebooks")
    common(ra)
    sub.add_parser("summary", help="write results/summary.md and summary.html from the run records")
    sub.add_parser("list", help="list the notebooks")
    si = sub.add_parser("site", help="render the static report site (results/site/index.html)")
    si.add_argument("--out", type=Path, default=None, help="output folder (default: <results>/site)")
    st = sub.add_parser("student", help="write student copies of the notebooks without solution cells")
    st.add_argument("--out", type=Path, default=None, help="output folder (default: <repo>/student)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Return the exit status of the ``workbook`` command (see module docstring)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from workbook import runner

    root = args.results_dir.resolve() if args.results_dir else results_root()
    try:
        if args.command == "list":
            print("\n".join(list_notebooks()))
            return 0
        if args.command == "site":
            from workbook.reporting.site import build_site

            print(f"wrote {build_site(root, args.out)}")
            return 0
        if args.command == "student":
            from workbook.course import write_student_copies

            paths = write_student_copies(None, args.out)
            print(f"wrote {len(paths)} files")
            return 0
        if args.command == "summary":
            md, html = runner.write_summary(root)
            print(f"wrote {md} and {html}")
            return 0
        if args.profile not in PROFILES:
            raise ParameterError(f"unknown profile {args.profile!r}; expected one of {', '.join(PROFILES)}")
        overrides = _overrides(args.param)
        if args.command == "run":
            rec = runner.run_notebook(args.notebook, args.profile, overrides, root=root, timeout_s=args.timeout)
            runner.write_summary(root)
            records = [rec]
        else:
            records = runner.run_all(args.profile, overrides, notebooks=args.only, root=root, timeout_s=args.timeout)
    except ParameterError as err:
        print(f"workbook: error: {err}", file=sys.stderr)
        return 2
    for rec in records:
        line = f"{rec.notebook:<28} {rec.profile:<6} {rec.status:<8} {rec.wall_s:8.1f} s"
        if rec.error:
            line += "  " + rec.error.strip().splitlines()[-1][:160]
        print(line)
    print(f"summary: {root / 'summary.md'}")
    return 0 if all(r.status == "passed" for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
