# thinbridge: set-up, the book and the tests.   `make help` lists the targets.
#
#   make setup       once: .venv, requirements, the package, Chromium for the browser check
#   make book        run every notebook (full profile) with papermill, then build the HTML
#   make test        unit tests, nbval re-execution of the notebooks, build -W, browser check
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
.PHONY: help setup book book-fast notebooks html test unit nbval browser publish benchmark clean clean-artifacts

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup:  ## create .venv, install requirements.txt and the package; install Chromium (Debian, as root) if missing
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt
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
# `make book-fast` overwrites them with fast-profile runs in the same place: good for
# checking that everything runs, not for committing.
book:  ## run all notebooks (full profile) with papermill into book/, then build the HTML
	$(PY) scripts/run_notebooks.py --profile full
	$(MAKE) html

book-fast:  ## the same with the fast profile (smaller runs; do not commit these notebooks)
	$(PY) scripts/run_notebooks.py --profile fast
	$(MAKE) html

html:  ## build the HTML from the executed notebooks (no execution; warnings are errors) into _build/html
	$(JB) build . --all -W --keep-going

test:  ## everything: unit tests, nbval, HTML build with -W, headless Chromium check
	$(MAKE) unit
	$(MAKE) nbval
	$(MAKE) html
	$(MAKE) browser

unit:  ## the package's unit tests
	$(PY) -m pytest -q -p no:cacheprovider tests

nbval:  ## re-execute every executed notebook in book/ and compare its outputs with the stored ones
	@if [ -z "$(NOTEBOOKS)" ]; then echo "nbval: no executed notebooks in book/ (run make book)"; exit 1; fi
	$(NB_ENV) $(PY) -m pytest $(NBVAL_OPTS) $(NOTEBOOKS)

browser:  ## open every page of _build/html in headless Chromium; fail on broken images, JS errors, missing files
	$(PY) scripts/check_browser.py $(HTML) --chromium $(CHROMIUM)

publish:  ## push _build/html to the gh-pages branch (ghp-import)
	$(PY) -m ghp_import -n -p -f $(HTML)

benchmark:  ## training, query, index-scale, per-molecule chemistry and command-line start-up timings (scripts/bench_*.py)
	$(PY) scripts/bench_train.py
	$(PY) scripts/bench_chem.py
	$(PY) scripts/bench_query.py
	nice -n 10 $(PY) scripts/bench_index.py
	$(PY) scripts/bench_cli.py --run artifacts/runs/scaffold_rich_noname

clean:  ## remove the HTML build and Python caches (keeps artifacts/ and the executed notebooks)
	rm -rf _build .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

clean-artifacts:  ## remove artifacts/ (cached features, trained bridges): the next make book recomputes them
	rm -rf artifacts
