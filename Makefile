# make run    train VT-ResNet and the CNN on the embedded CIFAR-10 sample and push the winner
# make test   the test suite (unit + end-to-end on tiny data), what CI runs
# make check  lint + the fast unit tests (no `slow` or `e2e` marker): a few minutes
# make unit TESTS=tests/unit/test_x.py PYTEST_ARGS=-x   one file (TESTS) with pytest options
# make venv   create or update .venv from requirements.lock
PY := .venv/bin/python
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: run test check unit e2e venv lock lint format clean

run: .venv/.synced
	$(PY) pipeline_runner.py --runner=local $(ARGS)

test: .venv/.synced
	$(PY) -m pytest -q $(PYTEST_ARGS)

check: lint
	$(PY) -m pytest -q -m "not slow and not e2e" tests/unit $(PYTEST_ARGS)

unit: .venv/.synced
	$(PY) -m pytest -q $(or $(TESTS),tests/unit) $(PYTEST_ARGS)

e2e: .venv/.synced
	$(PY) -m pytest -q $(or $(TESTS),tests/e2e) $(PYTEST_ARGS)

venv .venv/.synced: requirements.lock pyproject.toml scripts/venv.sh
	bash scripts/venv.sh

lock:
	bash scripts/venv.sh --lock

lint: .venv/.synced
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

format: .venv/.synced
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .

clean:
	rm -rf outputs .pytest_cache
