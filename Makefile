# firstresponder: `make run` starts the daemon on config.example.yaml; `make test` runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck format bench-ingest bench-retention bench-storm system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/firstresponder check-config config.example.yaml
	$(BIN)/firstresponder serve --config config.example.yaml

# Debian packages the end-to-end tests, the browser tests and the benchmark need, installed
# only when missing.
system-deps:
	@missing=""; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The checks come first: code that is not typed, linted and formatted does not land.
test: $(STAMP) system-deps lint typecheck
	$(BIN)/firstresponder check-config config.example.yaml
	$(BIN)/firstresponder test-rules rules/*_test.yaml
	$(BIN)/pytest -q

bench-ingest: $(STAMP)
	@command -v wrk >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench.ingest

bench-retention: $(STAMP)
	$(BIN)/python -m bench.retention

# The alert storm (bench/README.md); PostgreSQL runs need the server at 127.0.0.1:5432.
bench-storm: $(STAMP)
	$(BIN)/python -m bench.storm

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache firstresponder.db*
