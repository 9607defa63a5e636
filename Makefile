# vggattn: two commands do everything on a fresh machine.
#   make run   execute every notebook in order, write results/summary.md
#   make test  unit tests (pytest) and every notebook under pytest --nbval
# Both create .venv and install the pinned course environment first (once).

PYTHON    ?= python3
VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
NBVAL     := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: install run test lint unit nbval notebooks experiments lab clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[course,notebooks,test,export]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (vggattn)" >/dev/null
	touch $(STAMP)

## run: execute every notebook in order (copies in results/notebooks/), write results/summary.md
run: $(STAMP)
	$(PY) -m vggattn.notebook_runner $(NOTEBOOKS)

## test: formatting and lint (ruff), unit tests, then every notebook under nbval (stored outputs compared)
test: lint unit nbval

lint: $(STAMP)
	$(VENV)/bin/ruff format --check vggattn tests
	$(VENV)/bin/ruff check vggattn tests

unit: $(STAMP)
	$(PY) -m pytest tests

nbval: $(STAMP)
	$(PY) -m pytest $(NBVAL) $(NOTEBOOKS)

## notebooks: re-execute the notebooks in place (what maintainers commit)
notebooks: $(STAMP)
	$(PY) -m vggattn.notebook_runner --inplace $(NOTEBOOKS)

## experiments: compute every stored result that is missing or stale (what the notebooks load; resumable)
experiments: $(STAMP)
	$(PY) -m vggattn experiments run --all

## lab: open JupyterLab on notebooks/
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

## clean: remove the environment, caches and results (not the notebooks, not a downloaded dataset)
clean:
	rm -rf $(VENV) results runs .pytest_cache data/cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +
