# Self-documenting Makefile: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/onboarding-analysis
STAMP := $(VENV)/.installed
DEMO_DATA := data/demo/events.parquet
export PYTHONHASHSEED := 0

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DEMO_DATA): $(STAMP)
	$(CLI) demo-data --out data/demo

.PHONY: setup
setup: $(STAMP) ## Create .venv (if missing) and install the package with its dev extras

.PHONY: demo
demo: $(STAMP) $(DEMO_DATA) ## Set up, generate the demo data if absent, render reports/demo/report.html + metrics.json
	$(CLI) run params/demo.yaml --out reports
	@echo "Open reports/demo/report.html"

.PHONY: test
test: $(STAMP) $(DEMO_DATA) ## Set up and run every test: pytest (package) + nbval (notebooks)
	$(PY) -m pytest

.PHONY: lab
lab: $(STAMP) $(DEMO_DATA) ## Open JupyterLab on notebooks/ (the parameters cells hold the values that run the demo)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: notebooks
notebooks: $(STAMP) $(DEMO_DATA) ## Re-execute the notebooks in place on the demo data (the outputs nbval checks)
	cd notebooks && for nb in *.ipynb; do \
	  ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; \
	done

.PHONY: params-cells
params-cells: $(STAMP) ## Rewrite the notebooks' parameters cells from the package (only that cell changes)
	$(PY) -m onboarding_analysis.parameters_cell notebooks params/demo.yaml

.PHONY: bench
bench: $(STAMP) ## Benchmarks at 100k, 300k and 1M users (about 30 min; not part of the tests)
	$(PY) benchmarks/run.py --users 100000 300000 1000000

.PHONY: lint
lint: $(STAMP) ## Ruff (with numpy-convention docstring rules) and numpydoc's docstring checks
	$(VENV)/bin/ruff check onboarding_analysis tests benchmarks
	$(VENV)/bin/numpydoc lint $$(find onboarding_analysis -name '*.py' | sort)

.PHONY: clean
clean: ## Remove generated reports and demo data (keeps .venv)
	rm -rf reports data/demo

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk $(HELP_AWK)

# Two passes: the description column starts two spaces after the longest target name.
HELP_AWK := 'BEGIN {FS = ":.*\#\# "} {name[NR] = $$1; text[NR] = $$2; if (length($$1) > w) w = length($$1)} \
  END {for (i = 1; i <= NR; i++) printf "  make %-" w "s  %s\n", name[i], text[i]}'
