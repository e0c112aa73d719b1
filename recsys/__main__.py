"""Command line: ``python -m recsys run`` executes the notebooks (see :mod:`recsys.notebook.runner`)."""

from __future__ import annotations

import argparse
import sys

from recsys.notebook import runner


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recsys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="execute the notebooks in order with papermill",
        description="Execute the notebooks in order with papermill; write executed notebooks, HTML, "
        "figures and results JSON under build/ (or $RECSYS_BUILD_DIR).",
    )
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a notebook parameter (repeatable); VALUE is parsed as a Python literal "
        "when it is one (10, 0.5, True, [1, 2]), else taken as a string",
    )
    run.add_argument(
        "--only",
        nargs="+",
        metavar="NOTEBOOK",
        help="run only these notebooks, by number (01 3) or name (01_data_prep)",
    )
    run.add_argument("--dataset", help="shorthand for -p dataset NAME")
    run.add_argument("--build-dir", help="where to write the outputs (default: build/)")
    run.add_argument("--no-html", action="store_true", help="skip the HTML rendering")
    run.add_argument(
        "--no-check",
        action="store_true",
        help="do not compare default runs with the results in the committed notebooks",
    )
    run.add_argument(
        "--publish", action="store_true", help="copy default-parameter runs back into notebooks/ (maintainers)"
    )
    run.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    commands.add_parser("list", help="list the notebooks and their parameters")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            for nb in runner.discover():
                defaults = runner.notebook_defaults(nb)
                print(nb.stem)
                for name, value in defaults.items():
                    print(f"    {name} = {value!r}")
            return 0
        overrides = {name: runner.parse_value(value) for name, value in args.parameter}
        if args.dataset:
            overrides["dataset"] = args.dataset
        runs = runner.run(
            only=args.only,
            parameters=overrides,
            build_dir=args.build_dir,
            progress=not args.quiet,
            html=not args.no_html,
            check=not args.no_check,
            publish=args.publish,
        )
    except runner.BuildDirError as error:
        print(f"error: {error}", file=sys.stderr)
        return runner.EXIT_BUILD_DIR
    except runner.RunnerError as error:
        print(f"error: {error}", file=sys.stderr)
        return runner.EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted; the notebook that was running is marked failed in the index", file=sys.stderr)
        return 130
    failed = [r for r in runs if not r.ok]
    if failed:
        reason = (failed[0].error or "unknown error").splitlines()[0]
        print(
            f"error: {failed[0].stem} failed ({reason}). Its previous results and figures were removed, the "
            f"partial notebook {failed[0].executed} is marked failed, and the index says so; the notebooks "
            "after it did not run.",
            file=sys.stderr,
        )
        return runner.EXIT_FAILED
    differing = [r.stem for r in runs if r.reproduction]
    if differing and not args.publish:
        print(
            f"error: {', '.join(differing)} did not reproduce the results in the committed notebook(s); "
            "see the differences above (maintainers: rerun with --publish if the change is intended)",
            file=sys.stderr,
        )
        return 3
    print(f"{len(runs)} notebook(s) ran in {sum(r.seconds for r in runs):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
