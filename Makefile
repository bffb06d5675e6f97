# Every target installs what it needs: a fresh machine needs only python3 (3.11).
export UV_PYTHON_DOWNLOADS := never
# pre-compiled bytecode: imports (dlt is large) stay fast even where PYTHONDONTWRITEBYTECODE is set
export UV_COMPILE_BYTECODE := 1
PYTHON ?= python3
UV := $(PYTHON) -m uv

.PHONY: setup demo test test-deps lint typecheck sync status clean chaos bench

setup:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

demo: setup
	$(UV) run callsync demo

# tests run in parallel processes (each uses its own tmp dirs and loopback ports); the
# Debian packages they need are installed first when missing (scripts/system-packages.sh).
# --dist loadgroup: tests of one xdist_group run on one worker (the Spark tests share a JVM)
test: setup test-deps
	$(UV) run pytest -q -n auto --maxprocesses 4 --dist loadgroup
	$(UV) run ruff check .
	$(UV) run mypy

# Debian packages the tests use, installed when missing (root only: CI's fresh machine)
test-deps:
	sh scripts/system-packages.sh

lint: setup
	$(UV) run ruff check .

typecheck: setup
	$(UV) run mypy

sync: setup
	$(UV) run callsync sync

status: setup
	$(UV) run callsync status

clean:
	rm -rf data/demo.duckdb data/.demo.dlt data/demo-report.html data/published/demo.duckdb data/published/demo .pytest_cache .mypy_cache .ruff_cache

chaos: setup
	$(UV) run python -m chaos --rounds $${ROUNDS:-30} --seed $${SEED:-1}

# issue 14's table (SIPSIM alone and all four; the limit, the floor, where the time goes);
# bench.run (the older scenarios) and bench.model_build (10M) run on their own
bench: setup
	$(UV) run python -m bench.table --calls $${CALLS:-1000000} --runs $${RUNS:-3}
