# Two entry points for a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install benchmark benchmark-full clean docs docs-render benchmark-docs benchmark-docs-quick earthmover-docs product-manifold-docs cryo-em-docs import-docs

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

# `make docs` regenerates docs/ from the code: re-runs every experiment behind it (tens of
# minutes), then renders the markdown from the results JSON it wrote.
# `make docs-render` only re-renders the markdown from the committed JSON (seconds).
MAP := ../shared/data/rotating_shaft_res6.mrc
NOTE ?= machine shared with other engineers working in parallel: timings are noisy

docs: install benchmark-docs earthmover-docs product-manifold-docs cryo-em-docs import-docs docs-render

# docs/benchmarks.md renders docs/benchmarks/full.json (the full suite); the quick suite's
# results of the same day are docs/benchmarks/results.json (make benchmark-docs-quick).
benchmark-docs: install
	$(BIN)/python -m benchmarks --full --out docs/benchmarks --name full --note "$(NOTE)"

benchmark-docs-quick: install
	$(BIN)/python -m benchmarks --quick --out docs/benchmarks --name results --note "$(NOTE)"

earthmover-docs: install
	$(BIN)/conformap reproduce earthmover --out docs/earthmover/procedural --overwrite
	$(BIN)/conformap reproduce earthmover --map $(MAP) --out docs/earthmover/real-map --overwrite
	$(BIN)/conformap reproduce earthmover --full --seeds 2 --map $(MAP) --out docs/earthmover/real-map-full --overwrite

cryo-em-docs: install
	$(BIN)/python -m benchmarks.bench_particles --full --out docs/cryo-em/results.json --note "$(NOTE)"

import-docs: install
	$(BIN)/python -m benchmarks.bench_import --repeats 7 --out docs/import-time.json

product-manifold-docs: install
	$(BIN)/conformap reproduce product-manifold --out docs/product-manifold --overwrite
	$(BIN)/conformap reproduce product-manifold --full --out docs/product-manifold/full --overwrite

docs-render: install
	$(BIN)/python -m benchmarks.docs
	$(BIN)/python -m benchmarks.docs --check --lint

clean:
	rm -rf $(VENV) conformap-demo .pytest_cache
