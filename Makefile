# mdwatch — every target installs what is missing first, idempotently.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mdwatch-installed
APT_PACKAGES := tesseract-ocr tesseract-ocr-chi-sim chromium fonts-noto-cjk poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps sysdeps demo test bench eval lint clean

# byte-compiled as an installed package is (pip compiles at install; an editable install does not, and
# with PYTHONDONTWRITEBYTECODE set every mdwatch process would compile the package again: ≈0.25 s of
# each start); only changed modules are compiled again
deps: sysdeps $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 mdwatch devtools

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: deps
	$(BIN)/mdwatch demo run

test: deps
	$(BIN)/pytest -q -n 2

eval: deps
	$(BIN)/python -m devtools.evaluation

bench: deps
	$(BIN)/python benchmarks/bench_analysis.py
	$(BIN)/python benchmarks/bench_claim_model.py
	$(BIN)/python benchmarks/bench_scan_start.py
	$(BIN)/python benchmarks/bench_registry.py --records $${BENCH_RECORDS:-1000000}
	$(BIN)/python benchmarks/bench_sweep.py --products $${BENCH_SWEEP_PRODUCTS:-2000}
	$(BIN)/python benchmarks/bench_ocr.py --quick
	$(BIN)/python benchmarks/bench_ocr.py --quick --scaling
	$(BIN)/python benchmarks/bench_platform.py --listings $${BENCH_PLATFORM_LISTINGS:-150}
	$(BIN)/python benchmarks/bench_evidence.py

lint: deps
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
