"""Adding a provider means a few files in obvious places: this fails until they exist."""

from __future__ import annotations

import importlib
import tomllib

import pytest

import simulator
from pipelines.transform import staging_inputs
from sources import PROVIDERS
from tests.conftest import PROJECT


@pytest.mark.parametrize("slug", sorted(PROVIDERS))
def test_provider_has_every_file(slug: str) -> None:
    for name in ("__init__.py", "client.py", "settings.py", "README.md"):
        assert (PROJECT / "sources" / slug / name).is_file(), name
    module = importlib.import_module(f"sources.{slug}")
    assert module.__doc__ and PROVIDERS[slug].source.__doc__
    assert (PROJECT / "simulator" / f"{slug}.py").is_file()
    assert slug in simulator.PROVIDERS
    staging = list((PROJECT / "transforms" / "staging").glob(f"stg_{slug}__*.sql"))
    assert staging
    union = staging_inputs((PROJECT / "transforms" / "staging" / "stg_calls.sql").read_text())
    assert any(path.stem in union for path in staging)
    assert (PROJECT / "tests" / slug).is_dir()


@pytest.mark.parametrize("slug", sorted(PROVIDERS))
def test_provider_is_in_the_config_files(slug: str) -> None:
    config = tomllib.loads((PROJECT / ".dlt" / "config.toml").read_text())
    example = tomllib.loads((PROJECT / ".dlt" / "secrets.toml.example").read_text())
    assert slug in config["sources"] and "base_url" in config["sources"][slug]
    assert slug in example["sources"]
    secret_keys = {k for keys in PROVIDERS[slug].secret_keys for k in keys}
    assert secret_keys & set(example["sources"][slug])


def test_readme_states_the_two_commands() -> None:
    readme = (PROJECT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
