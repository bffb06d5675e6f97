"""The `callsync` command line: thin over `sync`, `transform`, `status`, `demo` and `report`."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, NoReturn

log = logging.getLogger("callsync")

EXIT_CODES = """\
exit codes:
  0  success
  1  a provider or the model build failed (the other providers still loaded)
  2  usage, configuration or lock error: nothing was requested, no file created or changed
  3  stale: `status --max-age` found a provider without a recent successful sync

global options (--warehouse, --debug, --version) go before or after the command."""

DEMO_MAX_SIZE = 1_000_000


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


class _Stream(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that goes quiet when its reader has gone (`callsync ... | head`)
    instead of printing `--- Logging error ---` and a BrokenPipeError for every line."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError):
            silence(self.stream)
            return
        super().handleError(record)


def silence(stream: IO[Any]) -> None:
    """Point `stream`'s file descriptor at /dev/null: its reader closed the pipe, so the
    rest of the run (and the interpreter's final flush) writes nowhere, quietly."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def setup_logging(debug: bool) -> None:
    """Summaries and progress to stdout, warnings and errors to stderr."""
    out = _Stream(sys.stdout)
    out.addFilter(_Below(logging.WARNING))
    err = _Stream(sys.stderr)
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


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (and exit 2), not the usage block and then the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _iso(value: str) -> object:
    from sources._time import parse_bound  # `sources` imports dlt: not for `--help`

    try:
        return parse_bound(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number of seconds")
    return int(value)


def _demo_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1 <= size <= DEMO_MAX_SIZE:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a whole number from 1 to {DEMO_MAX_SIZE:,}")
    return size


def _version() -> str:
    try:
        return version("callsync")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """`--warehouse`, `--debug`, `--version`: on the top parser and on every command, so
    they work before or after it (a command's copy leaves the top's value alone unless
    given)."""
    unset: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("--warehouse", metavar="PATH", **({"default": None} if top else unset),
                        help="the DuckDB file (wins over DESTINATION__DUCKDB__CREDENTIALS; "
                             "default data/calls.duckdb, demo: data/demo.duckdb)")
    parser.add_argument("--debug", action="store_true", **unset,
                        help="show tracebacks, debug logs and step timings")
    parser.add_argument("--version", action="version", version=f"callsync {_version()}")


def parser() -> argparse.ArgumentParser:
    """The `callsync` argument parser."""
    top = _Parser(prog="callsync", description="Telephony call logs into one DuckDB warehouse.",
                  epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(top, top=True)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog=EXIT_CODES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        _global_options(sub, top=False)
        return sub

    sync = command("sync", "load every configured provider, then build the models")
    sync.add_argument("--source", action="append", default=[], metavar="NAME",
                      help="sync only this provider (repeatable)")
    sync.add_argument("--start", type=_iso, metavar="ISO",
                      help="backfill from (ISO date/datetime, UTC unless zoned)")
    sync.add_argument("--end", type=_iso, metavar="ISO",
                      help="backfill until, exclusive (needs --start; default now)")
    command("transform", "rebuild the models from the raw tables")
    status = command("status", "last sync, cursor and row counts per provider")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--max-age", type=_seconds, metavar="SECONDS",
                        help="exit 3 when a configured provider has no successful sync "
                             "this recent")
    command("publish", "write the readers' copy (published/) now")
    check = command("check", "run the data-quality rules into call_checks")
    check.add_argument("--fail-on", choices=("error", "warn"),
                       help="exit 1 when a rule of this severity (warn: any rule) fails")
    report = command("report", "write the dashboard, one self-contained HTML file")
    report.add_argument("--out", type=Path, metavar="PATH",
                        help="the HTML file (default <warehouse>-report.html)")
    demo = command("demo", "sync every provider from the bundled simulator")
    demo.add_argument("--size", type=_demo_size, default=200, metavar="N",
                      help="simulated calls per partition (1 to 1,000,000; default 200)")
    return top


def console() -> int:
    """The `callsync` command: `main()`, then the process's objects frozen out of the
    collector, whose last passes at exit would otherwise walk every object dlt made
    (~0.2 s of every command, measured; files and connections are closed by then)."""
    code = main(freeze=True)
    gc.freeze()
    return code


def main(argv: Sequence[str] | None = None, freeze: bool = False) -> int:
    """Run `callsync` with `argv`; returns the exit code (see `EXIT_CODES`).

    `freeze` (the command, not a caller in a longer-lived process): once imported, the
    modules are frozen out of the collector, whose full passes would walk them again and
    again.
    """
    try:
        args = parser().parse_args(argv)  # `--help | head -1` may close the pipe here too
        setup_logging(args.debug)
        return _run(args, freeze)
    except BrokenPipeError:  # the reader of stdout went away: nothing more to say
        silence(sys.stdout)
        return 0


def _run(args: argparse.Namespace, freeze: bool = False) -> int:
    # imported here: `import dlt` costs seconds, and `--help` should not wait for it
    from pipelines.errors import UsageError, one_line
    from sources._http import ProviderError

    try:
        from pipelines import warehouse
        from pipelines.redaction import add_secrets, configured_secrets

        warehouse.use(args.warehouse)
        if args.command != "demo":  # the demo ignores dlt's configuration, as for its file
            warehouse.check_engine()
        add_secrets(configured_secrets())
        if freeze:
            gc.freeze()
        return _dispatch(args)
    except (ProviderError, UsageError) as exc:
        log.debug("failed", exc_info=True)
        for line in str(exc).splitlines():
            log.error("error: %s", line)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except BrokenPipeError:
        raise
    except Exception as exc:
        if args.debug:
            raise
        log.error("error: %s", one_line(exc))
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    from pipelines import commands
    from pipelines.window import check_window

    if args.command == "sync":
        start, end = check_window(args.start, args.end)
        return commands.sync(args.source, start, end)
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
