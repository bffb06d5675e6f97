"""Global options before or after the command; exit codes documented in `--help`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import parser
from simulator.server import Simulator
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import configure


@pytest.mark.parametrize("args", [
    ["--debug", "--warehouse", "w.duckdb", "status"],
    ["status", "--debug", "--warehouse", "w.duckdb"],
    ["--warehouse", "w.duckdb", "status", "--debug"],
], ids=["before", "after", "both-sides"])
def test_global_options_go_before_or_after_the_command(args: list[str]) -> None:
    parsed = parser().parse_args(args)
    assert (parsed.command, parsed.debug, parsed.warehouse) == ("status", True, "w.duckdb")


def test_an_option_not_given_after_the_command_keeps_the_one_before() -> None:
    parsed = parser().parse_args(["--warehouse", "w.duckdb", "sync"])
    assert (parsed.warehouse, parsed.debug) == ("w.duckdb", False)


@pytest.mark.parametrize("args", [["--version"], ["status", "--version"]])
def test_version(isolated: Path, args: list[str]) -> None:
    run = callsync(*args, cwd=isolated)
    assert run.code == 0 and run.out.startswith("callsync 0."), run.out + run.err


def test_help_documents_the_exit_codes(isolated: Path) -> None:
    for args in (["--help"], ["sync", "--help"]):
        run = callsync(*args, cwd=isolated)
        assert run.code == 0
        codes = run.out[run.out.index("exit codes:"):]
        for code in ("0  success", "1  a provider or the model build failed",
                     "2  usage, configuration or lock", "3  stale"):
            assert code in codes


def test_a_usage_error_is_one_line_with_exit_2(isolated: Path) -> None:
    run = callsync("sync", "--start", "yesterday-ish", cwd=isolated)
    assert run.code == 2
    assert run.err.splitlines() == [
        "callsync sync: error: argument --start: not an ISO date or datetime: "
        "'yesterday-ish' (see `callsync sync --help`)"]


def test_debug_after_the_command_shows_the_traceback(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "bland", api_key="sk-wrong-but-secret-987")
    run = callsync_here("sync", "--debug", capsys=capsys)
    assert run.code == 1
    assert "Traceback" in run.out + run.err


def test_help_and_version_do_not_wait_for_dlt(isolated: Path) -> None:
    code = ("import sys\nfrom pipelines.cli import main\n"
            "for args in (['--help'], ['sync', '--help'], ['--version']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
            "print('dlt loaded' if 'dlt' in sys.modules else 'dlt not loaded', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=isolated, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stderr.strip() == "dlt not loaded"
