"""A faithful local fake of every provider's API, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulator.bland import BlandSim
from simulator.jambonz import JambonzSim
from simulator.server import Simulator
from simulator.sipsim import SipsimSim
from simulator.unpod import UnpodSim

PROVIDERS: dict[str, type[Any]] = {
    "bland": BlandSim, "sipsim": SipsimSim, "unpod": UnpodSim, "jambonz": JambonzSim,
}


def build(seed: int = 7, size: int = 200, now: datetime | None = None,
          lazy: bool = False) -> Simulator:
    """A simulator with every provider registered (not started); `lazy`: calls made on
    demand from `(seed, index)` instead of held in memory (any size; see `volume`)."""
    sim = Simulator()
    for slug, cls in PROVIDERS.items():
        kwargs: dict[str, Any] = {"seed": seed, "size": size, "lazy": lazy}
        if now is not None:
            kwargs["now"] = now
        sim.add_provider(slug, cls(**kwargs))
    return sim
