"""The ``workbook`` command: run one notebook, run them all, write the summary.

    workbook run NOTEBOOK --profile P [-p key=value ...] [--timeout S] [--allow-dirty] [--notebooks-dir DIR]
    workbook run-all --profile P [-p key=value ...] [--only NB ...] [--allow-dirty] [--notebooks-dir DIR]
    workbook summary
    workbook site [--out DIR]
    workbook student [--out DIR]         then: workbook run LAB --notebooks-dir DIR (the student's own copies)
    workbook list
    workbook prepare [ARGS ...]          train/cache the toy checkpoints (workbook.toy.prepare)
    workbook data fetch NAME [ARGS ...]  download a benchmark file (workbook.data.fetch)
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from pathlib import Path

from workbook.params import OVERLAYS, PROFILES, ParameterError, list_notebooks, parse_override
from workbook.paths import results_root

EXIT_STATUS_HELP = """\
exit status:
  0    every run passed
  1    a notebook failed or timed out (previous results kept; the attempt is in <run dir>/attempts/)
  2    bad input, refused before anything ran: unknown notebook, profile or parameter, a wrong type, an invalid
       value anywhere in run-all, or cpu/paper results from a dirty git tree without --allow-dirty
  3    the run directory is locked by another run (its pid is named)
  130  interrupted by SIGINT (Ctrl-C): the notebook's processes were stopped, status `interrupted` recorded in
       the attempt, previous results kept
  143  the same for SIGTERM
"""


def _overrides(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        key, value = parse_override(item)
        out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``workbook`` command."""
    p = argparse.ArgumentParser(prog="workbook", description="Run the rlvr-workbook notebooks headless.",
                                epilog=EXIT_STATUS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="results root (default: $WORKBOOK_RESULTS_DIR or <repo>/results)")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--profile", default="cpu", help=f"one of {', '.join(PROFILES)} (default: cpu), or an overlay: "
                        f"{', '.join(f'{o} (on {b})' for o, b in OVERLAYS.items())}, docs/rehearsal.md")
        sp.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                        help="override a parameter (value parsed as YAML); repeatable. A run whose values differ "
                             "from the profile file goes to results/<notebook>/custom-<hash>/")
        sp.add_argument("--timeout", type=float, default=None, help="per-notebook timeout in seconds")
        sp.add_argument("--allow-dirty", action="store_true",
                        help="write cpu/paper results from a git tree with uncommitted changes (recorded in run.json)")
        sp.add_argument("--notebooks-dir", type=Path, default=None, metavar="DIR",
                        help="run the notebooks (and params/) in DIR instead of <repo>/notebooks, e.g. the student "
                             "copies `workbook student` wrote; results then go to DIR/results unless --results-dir "
                             "or $WORKBOOK_RESULTS_DIR says otherwise")

    r = sub.add_parser("run", help="execute one notebook through papermill", epilog=EXIT_STATUS_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("notebook", help="notebook name, e.g. quickstart")
    common(r)
    ra = sub.add_parser("run-all", help="execute every notebook in course order; one failure never stops the rest",
                        epilog=EXIT_STATUS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    ra.add_argument("--only", nargs="+", default=None, help="run only these notebooks (names from `workbook list`)")
    common(ra)
    sub.add_parser("summary", help="write results/summary.md and summary.html from the run records")
    sub.add_parser("list", help="list the notebooks")
    si = sub.add_parser("site", help="render the static report site (results/site/index.html)")
    si.add_argument("--out", type=Path, default=None, help="output folder (default: <results>/site)")
    st = sub.add_parser("student", help="write student copies of the notebooks without solution cells")
    st.add_argument("--out", type=Path, default=None, help="output folder (default: <repo>/student); run a copy "
                    "with `workbook run LAB --notebooks-dir DIR`")
    pr = sub.add_parser("prepare", help="train/cache the toy reasoner checkpoints (resumable)", add_help=False)
    pr.add_argument("args", nargs=argparse.REMAINDER, help="passed to workbook.toy.prepare (see `prepare --help`)")
    da = sub.add_parser("data", help="benchmark data files")
    dsub = da.add_subparsers(dest="data_command", required=True)
    fe = dsub.add_parser("fetch", help="download a benchmark file", add_help=False)
    fe.add_argument("args", nargs=argparse.REMAINDER, help="NAME [options], passed to workbook.data.fetch")
    return p


def _delegate(module: str, argv: list[str]) -> int:
    """Return ``module.main(argv)``, imported only now; exit 2 with one line when the module is not available."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and module.startswith(err.name):
            print(f"workbook: error: {module} is not available in this installation ({err})", file=sys.stderr)
            return 2
        raise
    main_fn = getattr(mod, "main", None)
    if main_fn is None:
        print(f"workbook: error: {module} has no main(argv)", file=sys.stderr)
        return 2
    rc = main_fn(list(argv))
    return int(rc or 0)


#: Subcommands handed whole to another module's ``main(argv)`` (argparse would eat a leading ``--help``).
DELEGATES = {("prepare",): "workbook.toy.prepare", ("data", "fetch"): "workbook.data.fetch"}


def _find_delegate(argv: list[str]) -> tuple[str, list[str]] | None:
    """Return ``(module, rest)`` when ``argv`` (after the global options) starts with a delegated subcommand."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] == "--results-dir" else 1
    for words, module in DELEGATES.items():
        if tuple(argv[i:i + len(words)]) == words:
            return module, argv[i + len(words):]
    return None


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Return the exit status of the ``workbook`` command (see EXIT_STATUS_HELP)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    delegate = _find_delegate(argv)
    if delegate is not None:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        return _delegate(*delegate)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from workbook import runner

    nb_dir = getattr(args, "notebooks_dir", None)
    if nb_dir is not None:
        nb_dir = nb_dir.expanduser().resolve()
        if not nb_dir.is_dir():
            print(f"workbook: error: --notebooks-dir {nb_dir} is not a folder (write student copies with "
                  "`workbook student --out DIR`)", file=sys.stderr)
            return runner.EXIT_BAD_INPUT
    if args.results_dir:
        root = args.results_dir.resolve()
    elif nb_dir is not None and not os.environ.get("WORKBOOK_RESULTS_DIR"):
        root = nb_dir / "results"  # a student's runs never replace the published results
    else:
        root = results_root()
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
        if args.profile not in PROFILES and args.profile not in OVERLAYS:
            raise ParameterError(f"unknown profile {args.profile!r}; expected one of "
                                 f"{', '.join((*PROFILES, *OVERLAYS))}")
        overrides = _overrides(args.param)
        if args.command == "run":
            rec = runner.run_notebook(args.notebook, args.profile, overrides, root=root, nb_dir=nb_dir,
                                      timeout_s=args.timeout, allow_dirty=args.allow_dirty, report=_say)
            runner.write_summary(root)
            records = [rec]
        else:
            records = runner.run_all(args.profile, overrides, notebooks=args.only, root=root, nb_dir=nb_dir,
                                     timeout_s=args.timeout, allow_dirty=args.allow_dirty, report=_say)
    except ParameterError as err:
        print(f"workbook: error: {err}", file=sys.stderr)
        return runner.EXIT_BAD_INPUT
    except runner.RunLocked as err:
        print(f"workbook: error: {err}", file=sys.stderr)
        return runner.EXIT_LOCKED
    except runner.Interrupted as err:
        print(f"workbook: interrupted by {err}; previous results kept", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:  # Ctrl-C while parameters were being checked: nothing had started
        print("workbook: interrupted by SIGINT before any notebook started", file=sys.stderr)
        return runner.EXIT_SIGNAL[signal.SIGINT]
    for rec in records:
        line = f"{rec.notebook:<28} {rec.label or rec.profile:<15} {rec.status:<11} {rec.wall_s:8.1f} s"
        if rec.error:
            line += "  " + rec.error.strip().splitlines()[-1][:160]
        print(line)
    print(f"summary: {root / 'summary.md'}")
    return runner.EXIT_OK if all(r.status == "passed" for r in records) else runner.EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
