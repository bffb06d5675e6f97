"""The schedules in `deploy/` are valid and run `callsync` as the docs say.

systemd units go through `systemd-analyze verify` (`make test` installs systemd when it
is missing and runs as root), the GitHub Actions workflow is parsed, and the cron sync
line is run by a shell against the simulator, with its `flock` held and free.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.server import Simulator
from sources import PROVIDERS
from tests.conftest import PROJECT, configure, query

DEPLOY = PROJECT / "deploy"
PLACEHOLDER = "/opt/callsync"  # the project folder every deploy file names

# --- cron ---------------------------------------------------------------------------------

CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def cron_field_ok(field: str, low: int, high: int) -> bool:
    """`*`, `a`, `a-b`, each optionally `/step`, comma-separated, within [low, high]."""
    for item in field.split(","):
        found = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", item)
        if not found:
            return False
        bounds = [int(n) for n in found.group(2, 3) if n is not None]
        if any(not low <= n <= high for n in bounds) or bounds != sorted(bounds):
            return False
        if found.group(4) is not None and int(found.group(4)) < 1:
            return False
    return True


def cron_jobs() -> list[tuple[list[str], str]]:
    """(five time fields, command as the shell gets it) for each job in the crontab."""
    jobs = []
    for line in (DEPLOY / "cron" / "crontab").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or re.match(r"^\w+=", line):
            continue
        parts = line.split(None, 5)
        command = parts[5]
        # cron turns an unescaped % into a newline: every % must be written \%
        assert not re.search(r"(?<!\\)%", command), line
        jobs.append((parts[:5], command.replace("\\%", "%")))
    return jobs


def sync_job() -> str:
    (command,) = [c for _, c in cron_jobs() if "callsync sync" in c]
    return command


def test_every_cron_line_has_five_valid_fields_and_a_command() -> None:
    jobs = cron_jobs()
    assert len(jobs) == 3
    for fields, command in jobs:
        assert all(cron_field_ok(f, *r) for f, r in zip(fields, CRON_RANGES, strict=True))
        assert command.strip()
    assert not cron_field_ok("*/0", 0, 59) and not cron_field_ok("60", 0, 59)
    assert re.search(r"\bflock -n \S+ \.venv/bin/callsync sync\b", sync_job())
    assert any("callsync status --max-age" in c for _, c in jobs)


def shell(command: str, project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command.replace(PLACEHOLDER, str(project))],
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_cron_sync_line_syncs_logs_and_skips_while_the_last_run_holds_flock(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".venv").symlink_to(PROJECT / ".venv")
    configure(monkeypatch, sim, "unpod")

    done = shell(sync_job(), project)
    assert done.returncode == 0, done.stderr
    (log,) = (project / "data" / "logs").glob("sync-*.log")
    assert "unpod" in log.read_text()
    warehouse = project / "data" / "calls.duckdb"  # the default, relative to the project
    assert query(warehouse, "select count(*) from calls where provider = 'unpod'")[0][0] > 0

    requests, logged = len(sim.requests), log.stat().st_size
    fd = os.open(project / "data" / "cron.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a sync still running
        skipped = shell(sync_job(), project)
    finally:
        os.close(fd)
    assert skipped.returncode == 1  # flock -n: not run
    assert (len(sim.requests), log.stat().st_size) == (requests, logged)


def test_the_cron_cleanup_line_deletes_logs_older_than_two_weeks(tmp_path: Path) -> None:
    (command,) = [c for _, c in cron_jobs() if c.startswith("find ")]
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    old, new, other = logs / "sync-2026-01-01.log", logs / "sync-2026-01-30.log", logs / "x"
    for path in (old, new, other):
        path.write_text("...")
    month_ago = time.time() - 30 * 86400
    os.utime(old, (month_ago, month_ago))
    os.utime(other, (month_ago, month_ago))
    assert shell(command, tmp_path).returncode == 0
    assert not old.exists() and new.exists() and other.exists()


# --- systemd ------------------------------------------------------------------------------

def unit(name: str) -> dict[str, dict[str, str]]:
    """A unit file's sections and keys (each key is set once in ours)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            current[key] = value
    return sections


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: install Debian's systemd (make test does)"
    units = sorted((DEPLOY / "systemd").iterdir())
    assert [u.name for u in units] == ["callsync-freshness.service", "callsync-freshness.timer",
                                       "callsync-sync.service", "callsync-sync.timer"]
    for path in units:  # verify checks that ExecStart exists: point it at this checkout
        (tmp_path / path.name).write_text(path.read_text().replace(PLACEHOLDER, str(PROJECT)))
    done = subprocess.run([analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "callsync" not in done.stdout + done.stderr  # no warning about our units either


def test_systemd_runs_sync_every_15_minutes_and_checks_freshness() -> None:
    sync, timer = unit("callsync-sync.service"), unit("callsync-sync.timer")
    assert sync["Service"]["Type"] == "oneshot"
    assert sync["Service"]["WorkingDirectory"] == PLACEHOLDER
    assert sync["Service"]["ExecStart"] == f"{PLACEHOLDER}/.venv/bin/callsync sync"
    assert timer["Timer"]["OnCalendar"] == "*:0/15" and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    fresh = unit("callsync-freshness.service")
    assert re.fullmatch(rf"{PLACEHOLDER}/\.venv/bin/callsync status --max-age \d+",
                        fresh["Service"]["ExecStart"])
    assert unit("callsync-freshness.timer")["Timer"]["Unit"] == "callsync-freshness.service"


# --- GitHub Actions -----------------------------------------------------------------------

def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load((DEPLOY / "github-actions" / "callsync.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_workflow_is_scheduled_one_at_a_time_and_syncs() -> None:
    flow = workflow()
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons and all(len(c.split()) == 5 for c in crons)
    assert flow["concurrency"]["group"] and flow["concurrency"]["cancel-in-progress"] is False
    (job,) = flow["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]
    sync = next(i for i, r in enumerate(runs) if re.search(r"\bcallsync sync\b", r))
    fresh = next(i for i, r in enumerate(runs) if "callsync status --max-age" in r)
    fetch = next(i for i, r in enumerate(runs) if "gh run download" in r)
    assert fetch < sync < fresh
    kept = [s for s in job["steps"] if s.get("with", {}).get("name") == "callsync-warehouse"]
    assert kept and kept[0]["with"]["path"] == "data/calls.duckdb"
    assert "--name callsync-warehouse --dir data" in runs[fetch]


def test_the_workflow_passes_every_providers_secrets_from_github_secrets() -> None:
    env = next(iter(workflow()["jobs"].values()))["env"]
    wanted = {f"SOURCES__{slug.upper()}__{key.upper()}"
              for slug, p in PROVIDERS.items() for keys in p.secret_keys for key in keys}
    assert set(env) == wanted
    for name, value in env.items():
        assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", value), name
