# thinbridge: set-up, the book and the tests.   `make help` lists the targets.
#
#   make setup       once: .venv, requirements, the package, Chromium for the browser check
#   make book        run the stale notebooks (full profile) with papermill, then build the HTML
#   make chapter N=07  one chapter, after the stale chapters it reads from
#   make test        unit tests, nbval re-execution of the notebooks, build -W, browser check
#   make lab         JupyterLab on the project: notebooks/*.py open as notebooks (jupytext)
#
# Every command runs through the virtual environment's own executables, so `make`
# works right after `make setup` without activating anything. Override on the command
# line, e.g.  make test PY=python  (another environment with the requirements installed).

SHELL    := /bin/bash
VENV     ?= .venv
PY       ?= $(VENV)/bin/python
JB       ?= $(VENV)/bin/jupyter-book
CHROMIUM ?= /usr/bin/chromium
HTML     := _build/html
# An extra package index for torch, e.g. PyTorch's CPU wheels on a machine that installs from
# plain PyPI (whose Linux torch is the CUDA build, gigabytes):
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Empty by default: pip then uses only the indexes that its own configuration names.
TORCH_INDEX ?=
# make lab: the server's settings are in jupyter_lab_config.py (tests/test_lab.py starts the
# server with it too); these are added on the command line, e.g.
#   make lab LAB_IP=0.0.0.0 LAB_PORT=9000 LAB_ARGS="--no-browser --ServerApp.token=secret"
LAB_IP   ?= 127.0.0.1
LAB_PORT ?= 8888
LAB_ARGS ?=
# executed notebooks, in chapter order (the shell glob sorts 01_ ... 06_)
NOTEBOOKS = $(sort $(wildcard book/[0-9][0-9]_*.ipynb))

# nbval re-executes every executed notebook in book/ (working directory book/, as
# under papermill) and compares each cell's text outputs with the stored ones, after
# .nbval_sanitize.cfg has blanked out volatile text. Images are not compared.
#   --nbval-current-env   the kernel is this Python (the venv), whatever the notebook's kernelspec says
#   --nbval-cell-timeout  seconds per cell (training cells of the full profile are long)
#   -p no:cacheprovider   no .pytest_cache written into the checkout
# the same kernel environment as scripts/run_notebooks.py (KERNEL_ENV there)
NB_ENV   := THINBRIDGE_PROGRESS=0 TQDM_DISABLE=1 PYTHONHASHSEED=0
NBVAL_OPTS ?= --nbval --nbval-current-env --nbval-sanitize-with .nbval_sanitize.cfg \
              --nbval-cell-timeout 1800 --nbval-kernel-startup-timeout 120 -p no:cacheprovider

.DEFAULT_GOAL := help
.PHONY: help setup book book-fast chapter status notebooks html test format format-check unit nbval browser lab publish benchmark clean clean-artifacts

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup:  ## create .venv, install requirements.txt (TORCH_INDEX=URL: an extra index for torch) and the package; install Chromium (Debian, as root) if missing
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(PY) -m pip install -e . --no-deps
	@if [ -x $(CHROMIUM) ]; then \
	  echo "setup: Chromium found at $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "setup: installing Debian's chromium for the browser check"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
	  echo "setup: no $(CHROMIUM); the browser check (make browser) needs it."; \
	  echo "       Debian/Ubuntu: sudo apt-get install -y chromium   (or chromium-browser)"; \
	  echo "       elsewhere: make browser CHROMIUM=/path/to/chromium-or-chrome"; \
	fi

# The executed notebooks committed in book/ are full-profile runs (`make book`).
# `make book` executes only the stale chapters (thinbridge/book/chapters.py says what each reads
# and writes; artifacts/book_manifest.json what ran), then builds the HTML of the pages that
# changed. `make book FORCE=1` executes every chapter. `make status` says what is stale, and why.
# `make book-fast` overwrites them with fast-profile runs in the same place: good for
# checking that everything runs, not for committing.
FORCE    ?=
RUN_OPTS := $(if $(FORCE),--force,)
book:  ## run the stale notebooks (full profile; FORCE=1: all) with papermill into book/, then build the HTML
	$(PY) scripts/run_notebooks.py --profile full $(RUN_OPTS)
	$(MAKE) html JB_ALL=

book-fast:  ## the same with the fast profile (smaller runs; do not commit these notebooks)
	$(PY) scripts/run_notebooks.py --profile fast $(RUN_OPTS)
	$(MAKE) html JB_ALL=

chapter:  ## run one chapter, e.g. make chapter N=07 (its stale prerequisites first), then build the HTML
	@if [ -z "$(N)" ]; then echo "make chapter: say which, e.g. make chapter N=07"; exit 2; fi
	$(PY) scripts/run_notebooks.py --profile full --only $(N) $(RUN_OPTS)
	$(MAKE) html JB_ALL=

status:  ## which chapters are stale, and why (runs nothing)
	$(PY) scripts/run_notebooks.py --profile full --status

# --all rebuilds every page (make test, CI); make book passes JB_ALL= to rebuild only changed pages,
# unless the last build did not finish (no search index: Sphinx would warn, and -W fail)
JB_ALL   ?= --all
html:  ## build the HTML from the executed notebooks (no execution; warnings are errors) into _build/html
	$(JB) build . $(if $(wildcard $(HTML)/searchindex.js),$(JB_ALL),--all) -W --keep-going

test:  ## everything: notebook format, import layers, unit tests, nbval, HTML build with -W, headless Chromium check
	$(MAKE) format-check
	$(MAKE) imports
	$(MAKE) unit
	$(MAKE) nbval
	$(MAKE) html
	$(MAKE) browser

format:  ## format the notebook sources (ruff format; line length in pyproject.toml fits the book's code column)
	$(PY) -m ruff format notebooks

format-check:  ## fail if a notebook source is not formatted (make format fixes it)
	$(PY) -m ruff format --check --diff notebooks

imports:  ## the package's layers import only downwards, nothing imports thinbridge.testing (.importlinter)
	$(VENV)/bin/lint-imports --no-cache

unit:  ## the package's unit tests
	$(PY) -m pytest -q -p no:cacheprovider tests

nbval:  ## re-execute every executed notebook in book/ and compare its outputs with the stored ones
	@if [ -z "$(NOTEBOOKS)" ]; then echo "nbval: no executed notebooks in book/ (run make book)"; exit 1; fi
	$(NB_ENV) $(PY) -m pytest $(NBVAL_OPTS) $(NOTEBOOKS)

# the verdict page's table has one row per claim (chapters 07 and 08 make 12)
EXPECT_TABLES ?= --expect-table 09_verdict.html:12
browser:  ## open every page of _build/html in headless Chromium at desktop and phone widths; fail on what a reader would see broken (raw Markdown tables, cut code, images without alt text, broken images, math, JS errors); screenshots in _build/screenshots
	$(PY) scripts/check_browser.py $(HTML) --chromium $(CHROMIUM) $(EXPECT_TABLES)

# The server prints its URL with the token; it opens a browser only where there is a display.
# A port in use is followed by the next free one. Ctrl-C (twice) stops it.
lab:  ## JupyterLab on the project (127.0.0.1 by default) with jupytext: notebooks/*.py open as notebooks
	@$(PY) -c "import jupyterlab, jupytext" 2>/dev/null || \
	  { echo "lab: jupyterlab or jupytext is not installed for $(PY) (make setup installs requirements.txt)"; exit 1; }
	$(PY) -m jupyterlab --config=jupyter_lab_config.py --ip=$(LAB_IP) --port=$(LAB_PORT) $(LAB_ARGS)

publish:  ## push _build/html to the gh-pages branch (ghp-import)
	$(PY) -m ghp_import -n -p -f $(HTML)

benchmark:  ## training, prepare memory, query, index-scale, per-molecule chemistry, command-line start-up, protocol-map and incremental-book timings (scripts/bench_*.py)
	$(PY) scripts/bench_train.py
	$(PY) scripts/bench_chem.py
	nice -n 10 $(PY) scripts/bench_prepare.py
	$(PY) scripts/bench_query.py
	nice -n 10 $(PY) scripts/bench_index.py
	nice -n 10 $(PY) scripts/bench_serve.py --run artifacts/runs/scaffold_rich_noname
	$(PY) scripts/bench_cli.py --run artifacts/runs/scaffold_rich_noname
	nice -n 10 $(PY) scripts/bench_protocol_map.py
	$(PY) scripts/bench_book.py

clean:  ## remove the HTML build and Python caches (keeps artifacts/ and the executed notebooks)
	rm -rf _build .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

clean-artifacts:  ## remove artifacts/ (cached features, trained bridges): the next make book recomputes them
	rm -rf artifacts
