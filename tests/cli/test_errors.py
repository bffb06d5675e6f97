"""Configuration and API errors: one line naming the fix, non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.lock import WarehouseLock
from simulator.server import Simulator
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import configure

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
