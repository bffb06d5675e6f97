"""The limit: fetch and parse every page of the simulated data, and nothing else.

    BENCH_SIM=<bench.serve's sim.json contents> python -m bench.limit

Each partition is walked by callsync's own clients (same pagination, one thread per
partition, as a sync does), the pages parsed by orjson, then dropped: no Arrow table, no
dlt, no DuckDB. What a sync costs beyond this is the price of loading and modelling.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sources.bland.client import BlandClient
from sources.bland.client import connect as bland
from sources.jambonz.client import JambonzClient
from sources.jambonz.client import connect as jambonz
from sources.sipsim.client import SipsimClient, check_credentials
from sources.sipsim.client import connect as sipsim
from sources.unpod.client import UnpodClient
from sources.unpod.client import connect as unpod

SINCE = datetime(2000, 1, 1, tzinfo=UTC)


def walks(sources: dict[str, dict[str, Any]]) -> list[Callable[[], Iterator[list[Any]]]]:
    """One page iterator per partition of the configured providers."""
    found: list[Callable[[], Iterator[list[Any]]]] = []
    now = datetime.now(UTC)
    if config := sources.get("bland"):
        client = BlandClient(bland(config["api_key"], config["base_url"]), page_size=1000)
        for number in config["phone_numbers"]:
            found.append(partial(client.sip_call_pages, number))
    if config := sources.get("sipsim"):
        credentials = check_credentials(config.get("access_token"), config.get("client_id"),
                                        config.get("client_secret"))
        s_client = SipsimClient(sipsim(credentials, config["base_url"], config["token_url"]),
                                page_size=1000)
        found.append(lambda: s_client.call_pages(SINCE, now))
    if config := sources.get("unpod"):
        handle = config["org_handle"]
        u_client = UnpodClient(unpod(config["api_token"], handle, config["base_url"]), handle)
        found.append(lambda: u_client.call_log_pages(SINCE, None))
    if config := sources.get("jambonz"):
        j_client = JambonzClient(jambonz(config["api_key"], config["base_url"]),
                                 config["account_sid"], page_size=500)
        found.append(lambda: j_client.recent_call_pages(SINCE, now))
    return found


def main() -> None:
    info = json.loads(os.environ["BENCH_SIM"])
    partitions = walks(info["sources"])
    with ThreadPoolExecutor(max_workers=len(partitions)) as pool:
        counts = list(pool.map(lambda walk: sum(len(page) for page in walk()), partitions))
    print(f"records read: {sum(counts):,} over {len(counts)} partitions")


if __name__ == "__main__":
    main()
