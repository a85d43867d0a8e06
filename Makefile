# The commands of README's quick start:
#   make book   build the executed book into _build/html
#   make test   unit tests, every chapter under nbval, then the strict build
# Both create the virtual environment .venv and install what they need on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
NBDIR  := _build/nbtest
# The chapters run twice under make test: with the seed offset (CEBOOK_SEED_OFFSET, 0 when unset)
# on one thread, then with the next offset on two threads. Their claims must hold on both.
OFFSET  := $(or $(CEBOOK_SEED_OFFSET),0)
OFFSET2 := $(shell echo $$(( $(OFFSET) + 1 )))
NBVAL  = $(BIN)/pytest $(NBDIR) --nbval-lax --nbval-current-env --nbval-cell-timeout=300 \
  -n 2 --dist loadfile -p no:cacheprovider --rootdir=.
# Chapters are the MyST notebooks under book/ (the files that carry a jupytext header).
CHAPTERS = $(shell grep -rl --include='*.md' '^ *format_name: myst' book | sort)

.PHONY: install book test lint unit chapters print-chapters build html-check bench lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[book,test]'
	touch $@

install: $(VENV)/.installed

# The book executes its chapters on one thread: their small tensors gain nothing from more, and
# OpenMP threads spinning on two cores made single cells run past the 300 s timeout.
book: install
	OMP_NUM_THREADS=1 $(BIN)/jupyter-book build . -W -n --keep-going

test: install lint unit chapters build html-check

lint:
	$(BIN)/ruff check cebook tests benchmarks
	$(BIN)/ruff format --check cebook tests benchmarks

unit:
	OMP_NUM_THREADS=1 $(BIN)/pytest tests --ignore=tests/book -n 2

chapters:
	rm -rf $(NBDIR)
	@test -n "$(CHAPTERS)" || (echo "no chapters found under book/" && exit 1)
	for f in $(CHAPTERS); do \
	  mkdir -p $(NBDIR)/$$(dirname $$f) && \
	  $(BIN)/jupytext --quiet --to ipynb --output $(NBDIR)/$${f%.md}.ipynb $$f || exit 1; \
	done
	# run each chapter on a simulated GPU: device mixing fails it (tests/devsim.py)
	$(BIN)/python tests/devsim.py $$(find $(NBDIR) -name '*.ipynb')
	CEBOOK_SEED_OFFSET=$(OFFSET) OMP_NUM_THREADS=1 $(NBVAL)
	# again with other seeds and two threads: no claim may hang on one run's numbers (two
	# workers of two threads on two cores: OpenMP threads that spin while they wait would starve)
	CEBOOK_SEED_OFFSET=$(OFFSET2) OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $(NBVAL)

print-chapters:
	@echo $(CHAPTERS)

build:
	OMP_NUM_THREADS=1 $(BIN)/jupyter-book build . -W -n --keep-going

html-check:
	$(BIN)/pytest tests/book -p no:cacheprovider

bench: install
	$(BIN)/python benchmarks/losses.py

lab: install
	$(BIN)/jupyter lab book

clean:
	rm -rf _build
