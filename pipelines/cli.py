"""The `callsync` command line: thin over `sync`, `transform`, `status`, `demo` and `report`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sources._http import ProviderError
from sources._time import parse_bound

log = logging.getLogger("callsync")


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def setup_logging(debug: bool) -> None:
    """Summaries and progress to stdout, warnings and errors to stderr."""
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(_Below(logging.WARNING))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    from pipelines.redaction import RedactingFormatter

    for handler in (out, err):
        handler.setFormatter(RedactingFormatter(
            "%(asctime)s %(name)s %(levelname)s %(message)s" if debug else "%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [out, err]
    root.setLevel(logging.WARNING)
    logging.getLogger("callsync").setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("simulator").setLevel(logging.INFO)


def _iso(value: str) -> object:
    try:
        return parse_bound(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number of seconds")
    return int(value)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="callsync", description="Telephony call logs into one DuckDB warehouse.")
    top.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = top.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="load every configured provider, build models")
    sync.add_argument("--source", action="append", default=[], metavar="NAME",
                      help="sync only this provider (repeatable)")
    sync.add_argument("--start", type=_iso, help="backfill from (ISO date/datetime, UTC)")
    sync.add_argument("--end", type=_iso, help="backfill until, exclusive")
    commands.add_parser("transform", help="rebuild the models from the raw tables")
    status = commands.add_parser("status", help="last sync, cursor and row counts per provider")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--max-age", type=_seconds, metavar="SECONDS",
                        help="exit 3 when a configured provider has no successful sync "
                             "this recent")
    commands.add_parser("publish", help="write the readers' copy (published/) now")
    check = commands.add_parser("check", help="run the data-quality rules into call_checks")
    check.add_argument("--fail-on", choices=("error", "warn"),
                       help="exit 1 when a rule of this severity (warn: any rule) fails")
    demo = commands.add_parser("demo", help="sync every provider from the bundled simulator")
    demo.add_argument("--size", type=int, default=200, help="simulated calls per partition")
    report = commands.add_parser("report", help="write the dashboard, one self-contained HTML")
    report.add_argument("--out", type=Path, help="the HTML file (default <warehouse>-report.html)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.debug)
    try:
        from pipelines.redaction import add_secrets, configured_secrets

        add_secrets(configured_secrets())
        return _dispatch(args)
    except ProviderError as exc:
        log.debug("failed", exc_info=True)
        log.error("error: %s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        log.error("error: %s: %s (run with --debug for the traceback)",
                  type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    # imported here: `import dlt` costs a second, and `--help` should not wait for it
    from pipelines import commands

    if args.command == "sync":
        return commands.sync(args.source, args.start, args.end)
    if args.command == "transform":
        return commands.transform()
    if args.command == "status":
        return commands.status(args.json, args.max_age)
    if args.command == "publish":
        return commands.publish()
    if args.command == "report":
        return commands.write_report(args.out)
    if args.command == "check":
        return commands.check(args.fail_on)
    return commands.demo(args.size)


if __name__ == "__main__":
    sys.exit(main())
