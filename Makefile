# Two entry points for a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install benchmark benchmark-full clean

$(BIN)/conformap: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(BIN)/conformap

install: $(BIN)/conformap

demo: install
	$(BIN)/conformap demo --out conformap-demo --overwrite

test: install
	$(BIN)/python -m pytest -q -n 2

benchmark: install
	$(BIN)/python -m benchmarks --quick

benchmark-full: install
	$(BIN)/python -m benchmarks --full

clean:
	rm -rf $(VENV) conformap-demo .pytest_cache
