"""Configuration and API errors: one line naming the fix, non-zero exit, no traceback."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.lock import WarehouseLock
from simulator.server import Simulator
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import configure, query

KEY = "bland-test-key"


@pytest.mark.parametrize(("override", "names"), [
    ({"api_key": None}, "SOURCES__BLAND__API_KEY"),
    ({"phone_numbers": ["+1 415 000"]}, "SOURCES__BLAND__PHONE_NUMBERS"),
    ({"phone_numbers": None}, "SOURCES__BLAND__PHONE_NUMBERS"),
    ({"base_url": "ftp//nowhere"}, "SOURCES__BLAND__BASE_URL"),
    ({"start_date": "last tuesday"}, "SOURCES__BLAND__START_DATE"),
    ({"lookback": "-5"}, "SOURCES__BLAND__LOOKBACK"),
    ({"lookback": "an hour"}, "SOURCES__BLAND__LOOKBACK"),
    ({"page_size": "lots"}, "SOURCES__BLAND__PAGE_SIZE"),
], ids=["missing-key", "bad-number", "no-numbers", "bad-base-url", "bad-start", "bad-lookback",
        "text-lookback", "bad-page-size"])
def test_configuration_errors_fail_before_any_request(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    override: dict[str, object], names: str, capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "bland", **override)
    run = callsync_here("sync", "--source", "bland", capsys=capsys)
    assert run.code != 0
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert names in lines[0]
    assert "Traceback" not in run.err + run.out
    assert sim.requests == []


def test_no_provider_configured_says_which_key_to_set(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = callsync_here("sync", capsys=capsys)
    assert run.code == 2
    assert "no provider is configured" in run.err and "SOURCES__BLAND__API_KEY" in run.err


def test_unknown_source_name(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = callsync_here("sync", "--source", "twilio", capsys=capsys)
    assert run.code == 2 and "unknown source 'twilio'" in run.err


def test_refused_key_is_one_line_without_the_key(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland", api_key="sk-wrong-but-secret-987")
    run = callsync("sync", cwd=isolated)
    assert run.code == 1
    failed = [line for line in run.err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and "HTTP 401" in failed[0] and "bland" in failed[0]
    assert "Traceback" not in run.err
    assert "sk-wrong-but-secret-987" not in run.out + run.err


def test_debug_shows_the_traceback(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "bland", api_key="sk-wrong-but-secret-987")
    run = callsync_here("--debug", "sync", capsys=capsys)
    assert run.code == 1
    assert "Traceback" in run.out + run.err
    assert "sk-wrong-but-secret-987" not in run.out + run.err


def test_second_sync_while_one_writes_exits_at_once(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    with WarehouseLock(warehouse):
        run = callsync("sync", cwd=isolated)
    assert run.code == 2
    assert "another callsync is writing" in run.err
    assert sim.requests == []


def test_a_failure_inside_dlt_names_its_cause_and_nothing_is_claimed_done(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    warehouse.parent.mkdir(parents=True)
    warehouse.write_text("these are my notes, not a database\n")  # a wrong --warehouse

    run = callsync("sync", cwd=isolated)

    # the warehouse is read (the calls still followed) before any request: one line, exit 2
    assert run.code == 2
    assert "Traceback" not in run.err and "models built" not in run.out
    [error] = run.err.splitlines()
    assert error.startswith("error: callsync: IOException: ") and "step=" not in error
    assert "not a valid DuckDB database file" in error
    assert "names a DuckDB file" in error  # what to do
    assert sim.requests == []
    assert warehouse.read_text() == "these are my notes, not a database\n"


@pytest.mark.parametrize("window", [
    ["--end", "2026-10-08"],
    ["--start", "2026-10-08", "--end", "2026-10-01"],
    ["--start", "2026-10-08", "--end", "2026-10-08"],
    ["--start", "2999-01-01"],
    ["--start", "2999-01-01", "--end", "2999-01-02"],
], ids=["end-without-start", "reversed", "empty", "future-start", "future-window"])
def test_a_bad_backfill_window_is_a_usage_error_before_anything(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], window: list[str],
) -> None:
    configure(monkeypatch, sim, "bland")
    run = callsync_here("sync", *window, capsys=capsys)
    assert run.code == 2
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --"), run.err
    assert "Traceback" not in run.err
    assert sim.requests == []
    assert not warehouse.parent.exists()


def test_an_end_in_the_future_means_now(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "unpod")
    run = callsync_here("sync", "--start", "2026-10-25", "--end", "2999-01-01", capsys=capsys)
    assert run.code == 0, run.err
    (request,) = sim.requests_for("unpod")
    end = request.query.pop("end_date")  # the window ends when the sync started, not in 2999
    assert request.query == {"start_date": "2026-10-25T00:00:00Z", "page": "1",
                             "page_size": "100"}
    assert end.startswith(datetime.now(UTC).strftime("%Y-")) and not end.startswith("2999")


def test_a_configuration_error_creates_no_file(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "bland", phone_numbers=["+1 415 000"])
    run = callsync_here("sync", capsys=capsys)
    assert run.code == 2
    assert list(isolated.iterdir()) == []  # no warehouse, folder, lock or dlt working folder


@pytest.mark.parametrize("placeholder", ["your-bland-api-key", "...", "<your key>"])
def test_a_placeholder_secret_is_refused_by_name(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], placeholder: str,
) -> None:
    configure(monkeypatch, sim, "bland", api_key=placeholder)
    run = callsync_here("sync", capsys=capsys)
    assert run.code == 2
    (line,) = run.err.splitlines()
    assert "SOURCES__BLAND__API_KEY" in line and "placeholder" in line
    assert placeholder not in line.split("placeholder", 1)[0]  # the key named, not echoed
    assert sim.requests == [] and not warehouse.parent.exists()


def test_a_refused_provider_does_not_stop_the_others(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "bland")
    configure(monkeypatch, sim, "unpod", api_token="your-unpod-api-token")
    run = callsync_here("sync", capsys=capsys)
    assert run.code == 1
    failed = [line for line in run.err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and "SOURCES__UNPOD__API_TOKEN" in failed[0]
    assert "your-unpod-api-token" not in run.err
    assert sim.requests_for("unpod") == []
    assert query(warehouse, "select distinct provider from calls") == [("bland",)]


def test_a_connection_error_names_the_host_not_the_key(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure(monkeypatch, sim, "bland", base_url=f"http://127.0.0.1:{port}",
              api_key="sk-live-secret-31337", max_attempts="1")
    run = callsync_here("sync", capsys=capsys)
    assert run.code == 1
    (failed,) = [line for line in run.err.splitlines() if line.startswith("failed:")]
    assert f"ConnectError connecting to 127.0.0.1:{port}" in failed
    assert "check base_url" in failed
    assert "sk-live-secret-31337" not in run.out + run.err


@pytest.mark.parametrize("size", ["-1", "0", "many", "1000001"])
def test_demo_options_are_checked(
    isolated: Path, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        callsync_here("demo", "--size", size, capsys=capsys)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--size" in err
    assert not (isolated / "data").exists()


@pytest.mark.parametrize(("key", "value", "says"), [
    ("CALLSYNC__DESTINATION", "bigquery",
     "destination 'bigquery' is not supported; only duckdb, postgres or filesystem"),
    ("CALLSYNC__SPARK_MASTER", "local[2]", 'spark_master needs destination = "filesystem"'),
], ids=["bigquery", "spark"])
def test_an_engine_not_built_yet_is_refused_not_replaced_by_duckdb(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    key: str, value: str, says: str, capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "bland")
    monkeypatch.setenv(key, value)
    run = callsync_here("sync", capsys=capsys)
    assert run.code == 2
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and key in lines[0], run.err
    assert sim.requests == [] and not warehouse.exists()
