# Two entry points for a fresh clone; both set up .venv themselves.
#   make demo   print the example fleet's licensing table (as of DEMO_NOW), then serve it on
#               http://127.0.0.1:10311/metrics until Ctrl-C
#   make test   lint (ruff, then mypy) and run the whole test suite
#   make bench  the parse, syslog and daemon benchmarks (python -m bench.<name>, from here)
#   make dist   the sdist and the wheel, in dist/ (docs/install.md)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The example outputs carry fixed dates (captured late November 2026): the demo judges them as of
# this instant, so that what it prints stays what README.md shows, and no deadline of it ever
# turns negative with the passing of time. With your own outputs, leave --now out.
DEMO_NOW := 2026-12-02T12:00:00Z

.PHONY: demo test lint bench dist clean

demo: $(VENV)/.installed
	$(BIN)/lic-exporter parse --now $(DEMO_NOW) examples/fleet examples/syslog
	@echo
	@echo "Serving the example fleet as of $(DEMO_NOW): open http://127.0.0.1:10311/ or run"
	@echo "  curl -s http://127.0.0.1:10311/metrics | grep cisco_smartlic_deadline_timestamp_seconds"
	@echo "(Ctrl-C stops it)"
	$(BIN)/lic-exporter serve --watch examples/fleet --syslog 'examples/syslog/*.log' --now $(DEMO_NOW) \
		--web.listen-address 127.0.0.1:10311

test: $(VENV)/.installed lint
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check lic_exporter tests bench dashboards hatch_build.py
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python -m bench.parse_bench
	$(BIN)/python -m bench.syslog_bench
	$(BIN)/python -m bench.daemon_bench

# `python -m build` in its default isolation: hatchling is fetched as pyproject.toml asks, as a
# packager's build does. Old artefacts go first, so dist/ holds this version's pair only.
dist: $(VENV)/.installed
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
