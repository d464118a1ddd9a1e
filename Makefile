# The two commands of the README. Each sets itself up from nothing (python3 with venv is all it needs).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: quickstart test setup reproduce

$(BIN)/rlscale: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dmc,playground,ray,logging,wandb]'
	touch $@

setup: $(BIN)/rlscale

quickstart: setup
	$(BIN)/rlscale sweep sweeps/quickstart.yaml
	$(BIN)/rlscale analyze runs/quickstart --out runs/quickstart/report

test: setup   # lint, then the default suite (what CI runs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadfile   # CI's 2 cores; loadfile keeps module fixtures shared

reproduce: setup   # P1's protocol on jax:pendulum, sweep -> fit -> predict sigma=8 -> verify (~45 min CPU)
	$(BIN)/rlscale reproduce p1-mini
