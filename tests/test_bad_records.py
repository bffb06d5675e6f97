"""Odd and broken records: nothing crashes, nothing is dropped silently."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import sync
from simulator.server import Simulator
from sources.bland.client import calls_table
from tests.conftest import NOW, configure, query
from tests.transforms.helpers import build, load_raw

BAD = [
    ({"direction": "inbound", "started_at": "2026-10-30T10:00:00Z"}, "missing call_id"),
    ({"call_id": "bad-time", "started_at": "half past ten"}, "missing or unreadable started_at"),
    ({"call_id": "renamed", "startedAt": "2026-10-30T10:00:00Z"},
     "missing or unreadable started_at"),
]
HOSTILE_ID = "x'); drop table calls; --"
ODD = [  # usable, with odd values: they load, `unknown` where the rule can't tell
    {"call_id": HOSTILE_ID, "started_at": "2026-10-30T10:00:00Z", "sip_code": 200,
     "direction": "inbound", "status": "'; delete from calls; --"},
    {"call_id": "wrong-types", "started_at": 1793354400, "sip_code": "abc",
     "status": 12345, "direction": 7, "duration_seconds": "long", "from": 4155550000},
    {"call_id": "drift", "started_at": "2026-10-30T10:00:00Z", "sip_code": 200,
     "direction": "inbound", "brand_new_field": {"nested": [1, 2]}},
]


def test_broken_records_are_kept_raw_and_reported(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bland = sim.providers["bland"]
    number = bland.phone_numbers[0]
    when = NOW - timedelta(days=2)
    for i, (record, _) in enumerate(BAD):
        bland.put_raw(number, record, when - timedelta(minutes=i))
    for i, record in enumerate(ODD):
        bland.put_raw(number, record, when - timedelta(minutes=10 + i))
    dup = bland.logs[number][5]
    bland.put_raw(number, dict(dup), dup["_ts"])  # the same call twice in one page
    bland.logs[bland.phone_numbers[2]].clear()  # an empty log: an empty page
    configure(monkeypatch, sim, "bland")

    result = sync.run(warehouse)

    assert result.ok, [p.error for p in result.providers]
    served = sum(len(log) for log in bland.logs.values())
    assert query(warehouse, "select count(*) from raw_bland.sip_calls") == [(served,)]
    rejected = query(warehouse, "select reason from calls_rejected order by 1")
    assert sorted(r for (r,) in rejected) == sorted(reason for _, reason in BAD)
    assert result.rejected == {"bland": len(BAD)}
    odd = dict(query(warehouse, "select call_id, status || '/' || direction from calls "
                     "where call_id in ('wrong-types', 'drift')"))
    assert odd == {"wrong-types": "unknown/unknown", "drift": "completed/inbound"}
    assert result.unknown == {"bland": 1}
    hostile = query(warehouse, "select provider_status from calls where call_id = ?",
                    [HOSTILE_ID])
    assert hostile == [("'; delete from calls; --",)]  # SQL in values is data
    assert query(warehouse, "select count(*) from calls where call_id = ?",
                 [dup["call_id"]]) == [(1,)]
    drift = query(warehouse, "select record from raw_bland.sip_calls where call_id = 'drift'")
    assert json.loads(drift[0][0])["brand_new_field"] == {"nested": [1, 2]}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
FIELDS = ["call_id", "direction", "from", "to", "status", "sip_code", "duration_seconds",
          "started_at", "ended_at"]
RECORDS = st.lists(
    st.dictionaries(st.sampled_from(FIELDS), JSON | st.sampled_from(
        ["2026-10-30T10:00:00Z", "200 OK", "486", "inbound", "+14155550000", "0:01:02"]))
    | JSON, min_size=1, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=RECORDS)
def test_every_raw_record_becomes_a_call_or_a_rejection(
    tmp_path_factory: pytest.TempPathFactory, records: list[Any]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        load_raw(con, "raw_bland.sip_calls", calls_table(records, "+14150000001"))
        build(con)
        raw_keys = {k for (k,) in con.execute(
            "select distinct coalesce(call_id, md5(record)) from raw_bland.sip_calls "
            ).fetchall()}
        called = {k for (k,) in con.execute("select call_id from calls").fetchall()}
        rejected = {k for (k,) in con.execute("select record_key from calls_rejected"
                                              ).fetchall()}
        assert called | rejected == raw_keys
        statuses = {s for (s,) in con.execute("select distinct status from calls").fetchall()}
        assert statuses <= {"completed", "no_answer", "busy", "canceled", "failed",
                            "voicemail", "in_progress", "unknown"}
        assert con.execute("select count(*) from calls where duration_seconds < 0 "
                           "or duration_seconds is null or answered is null").fetchone() == (0,)
