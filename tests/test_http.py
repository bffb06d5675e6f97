"""The shared HTTP session against real faults served on loopback."""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from simulator import build
from simulator.server import Response, Simulator
from sources._http import HostBoundAuth, Http, ProviderError, RateCap, RetryPolicy, tls_context
from sources.bland import bland_source
from tests.conftest import NOW, configure

KEY = "bland-test-key"
PATH = "v1/sip/calls"
PARAMS = {"phone_number": "+14150000001", "limit": 5}


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def http(sim: Simulator, waits: list[float]) -> Iterator[Http]:
    policy = RetryPolicy(attempts=4, base_seconds=1.0, max_seconds=60.0, timeout_seconds=1.0,
                         max_bytes=256 * 1024)
    session = Http("bland", sim.url, auth=HostBoundAuth({"authorization": KEY}, sim.url),
                   policy=policy, sleep=waits.append)
    yield session
    session.close()


def served(sim: Simulator) -> int:
    return len(sim.requests_for("bland"))


def test_429_waits_out_retry_after_seconds(sim: Simulator, http: Http, waits: list[float]) -> None:
    sim.fail_next(429, "bland", headers={"Retry-After": "7"})
    body = http.get_json(PATH, PARAMS)
    assert len(body["data"]["calls"]) == 5
    assert waits == [7.0] and served(sim) == 2


def test_429_waits_out_retry_after_http_date(
    sim: Simulator, http: Http, waits: list[float]
) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    sim.fail_next(429, "bland", headers={"Retry-After": when})
    http.get_json(PATH, PARAMS)
    assert len(waits) == 1 and 25 <= waits[0] <= 30


def test_429_without_retry_after_backs_off_exponentially_with_jitter(
    sim: Simulator, http: Http, waits: list[float]
) -> None:
    sim.fail_next(429, "bland", times=3)
    http.get_json(PATH, PARAMS)
    assert len(waits) == 3
    for attempt, wait in enumerate(waits):
        ceiling = 1.0 * 2**attempt
        assert ceiling / 2 <= wait <= ceiling


@pytest.mark.parametrize("fault", ["reset", "truncate", "garbage", "slow"])
def test_transient_faults_are_retried(
    sim: Simulator, http: Http, waits: list[float], fault: str
) -> None:
    sim.fail_next(fault=fault, provider="bland", delay=3.0)
    body = http.get_json(PATH, PARAMS)
    assert len(body["data"]["calls"]) == 5
    assert served(sim) == 2 and len(waits) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_retry_a_bounded_number_of_times(
    sim: Simulator, http: Http, waits: list[float], status: int
) -> None:
    sim.fail_next(status, "bland", times=10)
    with pytest.raises(ProviderError) as failed:
        http.get_json(PATH, PARAMS)
    assert served(sim) == 4 and len(waits) == 3
    assert f"still failing after 4 attempts (last: HTTP {status})" in str(failed.value)


@pytest.mark.parametrize(("status", "hint"), [
    (400, "bad request"), (401, "credential was refused"), (403, "forbidden"),
    (404, "not found"),
])
def test_client_errors_are_not_retried_and_say_what_to_fix(
    sim: Simulator, http: Http, waits: list[float], status: int, hint: str
) -> None:
    sim.fail_next(status, "bland", body={"errors": [{"message": f"echo {KEY}"}]})
    with pytest.raises(ProviderError) as failed:
        http.get_json(PATH, PARAMS)
    assert served(sim) == 1 and waits == []
    message = str(failed.value)
    assert f"HTTP {status}" in message and hint in message
    assert KEY not in message and "echo ***" in message  # an echoed key is redacted


@pytest.mark.parametrize("fault", ["huge", "endless"])
def test_oversized_or_endless_bodies_are_cut_off(
    sim: Simulator, http: Http, fault: str
) -> None:
    sim.fail_next(fault=fault, provider="bland")
    with pytest.raises(ProviderError, match="larger than 262144 bytes"):
        http.get_json(PATH, PARAMS)


def test_redirects_are_not_followed(sim: Simulator, http: Http) -> None:
    sim.fail_next(302, "bland", headers={"Location": "http://127.0.0.1:9/steal"})
    with pytest.raises(ProviderError, match="redirect"):
        http.get_json(PATH, PARAMS)
    assert served(sim) == 1


def test_credentials_go_only_to_the_configured_origin(sim: Simulator, http: Http) -> None:
    with build(seed=1, size=5, now=NOW) as other:
        other.route("bland", "GET", "/elsewhere", lambda r, p: Response(200, {"ok": True}))
        http.get_json(f"{other.url}/elsewhere")
        http.get_json(PATH, PARAMS)
    stranger = other.requests_for("bland", "/elsewhere")
    assert len(stranger) == 1 and stranger[0].header("authorization") is None
    assert sim.requests_for("bland")[0].header("authorization") == KEY


def test_repr_shows_no_secret(http: Http) -> None:
    assert KEY not in repr(http) and KEY not in repr(http._client.auth)


def test_rate_cap_spaces_requests() -> None:
    now = [100.0]
    cap = RateCap(4, clock=lambda: now[0])
    assert [cap.delay() for _ in range(3)] == [0.0, 0.25, 0.5]
    now[0] += 10
    assert cap.delay() == 0.0
    assert RateCap(0).delay() == 0.0


def run_their_pipeline(tmp_path: Path) -> None:
    """`bland_source()` in a dlt pipeline of the user's own, not callsync's."""
    pipeline = dlt.pipeline(pipeline_name="theirs", pipelines_dir=str(tmp_path / "dlt"),
                            destination=dlt.destinations.duckdb(str(tmp_path / "their.duckdb")),
                            dataset_name="their_calls")
    pipeline.run(bland_source())


def test_their_pipeline_honours_max_attempts(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, sim, "bland", max_attempts=1)
    sim.fail_next(503, "bland")
    with pytest.raises(PipelineStepFailed, match="still failing after 1 attempts"):
        run_their_pipeline(tmp_path)
    assert served(sim) >= 1


def test_their_pipeline_honours_max_response_bytes(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, sim, "bland", max_response_bytes=100)
    with pytest.raises(PipelineStepFailed, match="larger than 100 bytes"):
        run_their_pipeline(tmp_path)
    configure(monkeypatch, sim, "bland", max_response_bytes=None)
    run_their_pipeline(tmp_path)  # the default (64 MiB) reads every page


@pytest.mark.parametrize(("key", "value"), [
    ("max_attempts", "0"), ("requests_per_second", "-1"), ("timeout_seconds", "soon"),
    ("max_response_bytes", "lots")])
def test_bad_policy_key_names_the_env_var(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    configure(monkeypatch, sim, "bland", **{key: value})
    with pytest.raises(ProviderError, match=f"SOURCES__BLAND__{key.upper()}"):
        bland_source()
    assert served(sim) == 0


def test_long_waits_are_logged(
    sim: Simulator, http: Http, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    sim.fail_next(429, "bland", headers={"Retry-After": "30"})
    with caplog.at_level("WARNING", logger="callsync.http"):
        http.get_json(PATH, PARAMS)
    assert waits == [30.0]
    assert any("waiting 30 s" in r.getMessage() for r in caplog.records)


def test_simulator_rate_limit_answers_429_with_retry_after(
    sim: Simulator, http: Http, waits: list[float]
) -> None:
    sim.rate_limit = 2
    sim.clock = lambda: 1000.5  # one second of the simulator's clock
    for _ in range(2):
        http.get_json(PATH, PARAMS)
    assert waits == []
    sim.clock = lambda: 1001.5  # the next second: the bucket is full again
    http.get_json(PATH, PARAMS)
    sim.clock = lambda: 1001.6
    http.get_json(PATH, PARAMS)
    http.policy.attempts = 1
    with pytest.raises(ProviderError, match="still failing after 1 attempts"):
        http.get_json(PATH, PARAMS)  # the third in one second


def test_every_client_verifies_with_one_tls_context() -> None:
    # building a context loads the CA bundle (~20-40 ms): one for the process, not a client
    first, second = Http("bland", "https://api.bland.ai"), Http("unpod", "https://unpod.ai")
    try:
        contexts = {id(http._client._transport._pool._ssl_context)  # type: ignore[attr-defined]
                    for http in (first, second)}
        assert contexts == {id(tls_context())}
        assert tls_context().verify_mode == ssl.CERT_REQUIRED
    finally:
        first.close()
        second.close()
