"""The baseline: dlt's generic `rest_api` source, configured the obvious way for the same
four APIs (their documented paginators; merge on the id where the data allows it, else
append), one pipeline, into DuckDB.

Run by `bench.run` with `BENCH_SIM` (the simulator's URL and keys) in the environment.
"""

from __future__ import annotations

import json
import os
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_resources


def configs(sim: dict[str, Any]) -> list[dict[str, Any]]:
    src = sim["sources"]
    out = []
    if "bland" in src:
        bland = src["bland"]
        out.append({
            "client": {"base_url": bland["base_url"], "auth": {
                "type": "api_key", "name": "authorization", "api_key": bland["api_key"],
                "location": "header"}},
            "resource_defaults": {"write_disposition": "merge", "primary_key": "call_id"},
            "resources": [{
                "name": f"bland_{n.lstrip('+')}", "table_name": "bland_sip_calls",
                "endpoint": {
                    "path": "v1/sip/calls", "params": {"phone_number": n, "limit": 1000},
                    "data_selector": "data.calls",
                    "paginator": {"type": "cursor", "cursor_path": "data.calls[-1].call_id",
                                  "cursor_param": "before"}}}
                for n in bland["phone_numbers"]],
        })
    if "sipsim" in src:
        out.append({
            "client": {"base_url": src["sipsim"]["base_url"], "auth": {
                "type": "bearer", "token": "sipsim-static-access-token"}},
            # merge on `id` fails: some records carry a text id, which dlt puts in a
            # variant column and leaves `id` null (NOT NULL constraint): append
            "resource_defaults": {"write_disposition": "append"},
            "resources": [{"name": "sipsim_calls", "endpoint": {
                "path": "calls", "params": {"start_time": "2000-01-01T00:00:00Z",
                                            "limit": 1000},
                "data_selector": "data",
                "paginator": {"type": "cursor", "cursor_path": "pagination.page",
                              "cursor_param": "page"}}}],
        })
    if "unpod" in src:
        unpod = src["unpod"]
        out.append({
            "client": {"base_url": unpod["base_url"], "headers": {
                "Org-Handle": unpod["org_handle"]}, "auth": {
                "type": "api_key", "name": "Authorization",
                "api_key": f"Token {unpod['api_token']}", "location": "header"}},
            # unpod records may lack `id`: append, as a merge key can't be null
            "resource_defaults": {"write_disposition": "append"},
            "resources": [{"name": "unpod_call_logs", "endpoint": {
                "path": "call-logs/", "params": {"page_size": 100},
                "data_selector": "data",
                "paginator": {"type": "page_number", "base_page": 1, "page_param": "page",
                              "total_path": None, "maximum_page": 1 + sim["calls"].get(
                                  "unpod", 0) // 100}}}],
        })
    if "jambonz" in src:
        jam = src["jambonz"]
        out.append({
            "client": {"base_url": jam["base_url"], "auth": {
                "type": "bearer", "token": jam["api_key"]}},
            "resource_defaults": {"write_disposition": "append"},
            "resources": [{"name": "jambonz_recent_calls", "endpoint": {
                "path": f"Accounts/{jam['account_sid']}/RecentCalls",
                "params": {"count": 500}, "data_selector": "data",
                "paginator": {"type": "page_number", "base_page": 1, "page_param": "page",
                              "total_path": None, "stop_after_empty_page": True}}}],
        })
    return out


def main() -> None:
    sim = json.loads(os.environ["BENCH_SIM"])
    resources = [r for config in configs(sim) for r in rest_api_resources(config)]  # type: ignore[arg-type]
    pipeline = dlt.pipeline("bench_baseline", destination="duckdb",
                            dataset_name="baseline", pipelines_dir="baseline_pipelines")
    info = pipeline.run(resources)
    print(info)


if __name__ == "__main__":
    main()
