# The commands of README's quick start:
#   make book   build the executed book into _build/html
#   make test   lint, unit tests, the strict build, checks of its HTML, every chapter under nbval
# Both create the virtual environment .venv and install what they need on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
NBDIR  := _build/nbtest
# The chapters run twice under make test: in the book's build, with the seed offset
# (CEBOOK_SEED_OFFSET, 0 when unset) on one thread, then under nbval on a simulated GPU with the
# next offset on two threads. Their claims must hold on both.
OFFSET  := $(or $(CEBOOK_SEED_OFFSET),0)
OFFSET2 := $(shell echo $$(( $(OFFSET) + 1 )))
NBVAL  = $(BIN)/pytest $(NBDIR) --nbval-lax --nbval-current-env --nbval-cell-timeout=300 \
  -n 2 --dist loadfile -p no:cacheprovider --rootdir=.
# The build caches each executed chapter by its code (_build/.jupyter_cache); a cached chapter is
# stale once the seed offset or cebook changes, so then the cache goes and every page is rebuilt.
STAMP  = offset $(OFFSET), cebook $(shell cat cebook/*.py | cksum)
# Chapters are the MyST notebooks under book/ (the files that carry a jupytext header).
CHAPTERS = $(shell grep -rl --include='*.md' '^ *format_name: myst' book | sort)

.PHONY: install lock book pdf pdf-check test lint unit wheel chapters print-chapters html-check browser bench lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The environment is the lock file: every package of every extra (the book's and the tests'
# tools), pinned with hashes, made by `make lock` with pip-tools from pyproject.toml. Only torch is
# left out of it (its wheel depends on the machine: CPU or CUDA): a torch already in the
# environment is kept, else $(TORCH) is installed first, from wherever pip is configured to take
# it (this machine's disk, PyTorch's CPU index on GitHub). Then cebook itself, editable, with no
# dependencies (the lock has them all), and `pip check` that nothing is missing.
TORCH ?= torch==2.13.0
LOCK  := requirements-lock.txt
$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/python -m pip install --quiet '$(TORCH)'
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

install: $(VENV)/.installed

# Refresh the lock (needs PyPI): every extra of pyproject.toml, for this Python, resolved with
# $(TORCH) (whose own dependencies are pinned, torch itself not), hashes of every file on PyPI.
# pip-compile runs from its own environment so that it never changes the book's.
LOCKVENV := _build/lock-venv
lock:
	test -x $(LOCKVENV)/bin/pip-compile || ( $(PYTHON) -m venv $(LOCKVENV) && \
	  $(LOCKVENV)/bin/python -m pip install --quiet pip==26.3 pip-tools==7.6.2 )
	set -e; constraint=$$(mktemp); trap 'rm -f "$$constraint"' EXIT; echo '$(TORCH)' > "$$constraint"; \
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCKVENV)/bin/pip-compile --quiet --all-extras \
	  --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
	  --unsafe-package cebook --unsafe-package torch --constraint "$$constraint" \
	  --upgrade --output-file $(LOCK) pyproject.toml

# The book executes its chapters on one thread each: their small tensors gain nothing from more,
# and OpenMP threads spinning on two cores made single cells run past the 300 s timeout. It is
# the strict build: any warning or execution error fails it.
book: install
	@if [ "$$(cat _build/.stamp 2>/dev/null)" != "$(STAMP)" ]; then \
	  rm -rf _build/.jupyter_cache _build/.doctrees _build/html _build/jupyter_execute; fi
	mkdir -p _build && echo "$(STAMP)" > _build/.stamp
	# the chapters, as many at a time as there are cores, into the cache the build then reads
	CEBOOK_SEED_OFFSET=$(OFFSET) OMP_NUM_THREADS=1 $(BIN)/python tests/execute_chapters.py $(CHAPTERS)
	CEBOOK_SEED_OFFSET=$(OFFSET) OMP_NUM_THREADS=1 $(BIN)/jupyter-book build . -W -n --keep-going

test: install lint unit book html-check browser chapters

lint:
	$(BIN)/ruff check cebook tests benchmarks
	$(BIN)/ruff format --check cebook tests benchmarks
	# mypy --strict over cebook and tests/typed_usage.py (the configuration is in pyproject.toml)
	$(BIN)/mypy

unit:
	OMP_NUM_THREADS=1 $(BIN)/pytest tests --ignore=tests/book --ignore=tests/browser --ignore=tests/pdf -n 2

# Build the wheel, install it with the test extra into a fresh virtual environment (with the torch
# CI uses), check that LICENSE and py.typed are inside, and run the unit tests and every docstring
# example from a copy of tests/ outside the repository, so that cebook comes from site-packages.
# The tests that read the repository's own files (book/, pyproject.toml) skip there and say so.
WHEEL_TORCH ?= $(TORCH)
wheel: | $(BIN)/python
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir "$$tmp/dist" . ; \
	whl=$$(ls "$$tmp"/dist/cebook-*.whl); \
	$(BIN)/python -c 'import sys, zipfile; names = zipfile.ZipFile(sys.argv[1]).namelist(); \
	  missing = [f for f in ("cebook/py.typed", "licenses/LICENSE") if not any(n.endswith(f) for n in names)]; \
	  sys.exit(f"missing from the wheel: {missing}" if missing else 0)' "$$whl"; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet $(WHEEL_TORCH); \
	"$$tmp/venv/bin/python" -m pip install --quiet "$$whl[test]"; \
	cp -r tests "$$tmp/tests"; cd "$$tmp"; \
	venv/bin/python -c 'import cebook; assert "site-packages" in cebook.__file__, cebook.__file__'; \
	OMP_NUM_THREADS=1 venv/bin/python -m pytest tests --ignore=tests/book --ignore=tests/browser --ignore=tests/pdf -p no:cacheprovider \
	  -o 'filterwarnings=error::DeprecationWarning:cebook.*'

chapters:
	rm -rf $(NBDIR)
	@test -n "$(CHAPTERS)" || (echo "no chapters found under book/" && exit 1)
	for f in $(CHAPTERS); do \
	  mkdir -p $(NBDIR)/$$(dirname $$f) && \
	  $(BIN)/jupytext --quiet --to ipynb --output $(NBDIR)/$${f%.md}.ipynb $$f || exit 1; \
	done
	# each chapter on a simulated GPU, where device mixing fails it (tests/devsim.py), with the
	# next seeds and two threads: no claim may hang on the build's numbers (two workers of two
	# threads on two cores: OpenMP threads that spin while they wait would starve)
	$(BIN)/python tests/devsim.py $$(find $(NBDIR) -name '*.ipynb')
	CEBOOK_SEED_OFFSET=$(OFFSET2) OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $(NBVAL)

# The book as a PDF, _build/latex/book.pdf: Jupyter Book's LaTeX builder with XeLaTeX (Debian:
# texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex latexmk
# fonts-freefont-otf tex-gyre, which .ci/run installs), from the chapters `make book` executed
# into the cache: nothing runs twice. Strict as the HTML build; LaTeX's own log is pdf-check's.
pdf: book
	CEBOOK_SEED_OFFSET=$(OFFSET) OMP_NUM_THREADS=1 $(BIN)/jupyter-book build . --builder pdflatex -W -n --keep-going

# every chapter and figure in the PDF, no missing character or reference (needs poppler-utils)
pdf-check:
	$(BIN)/pytest tests/pdf -p no:cacheprovider

print-chapters:
	@echo $(CHAPTERS)

html-check:
	$(BIN)/pytest tests/book -p no:cacheprovider

# The built book in Chromium (Debian's chromium, else Playwright's own): every page loads offline
# with no console error, its math typesets, its images load; screenshots in _build/screenshots.
browser:
	$(BIN)/pytest tests/browser -n 2 -p no:cacheprovider

bench: install
	$(BIN)/python benchmarks/losses.py

lab: install
	$(BIN)/jupyter lab book

clean:
	rm -rf _build
