# Two commands from a fresh clone: `make sweep` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: sweep test bench clean chromium mutate

# The virtualenv is rebuilt whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# `make sweep ARGS="quadratic --steps 200"` passes options (and experiment names) on to `edujax sweep`.
ARGS ?=

sweep: $(STAMP)
	$(PY) -m edujax sweep $(ARGS) --out results

# Two workers, each test file on one of them (its module fixtures computed once): XLA compiles on one
# thread, so a second process keeps both cores busy while the other compiles. Files start slowest first
# (tests/conftest.py's order, kept by --no-loadscope-reorder), so neither worker finishes long before the other.
test: $(STAMP) chromium
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# The results page is tested in Debian's headless Chromium. Install it when missing; where that
# cannot be done (no root or no apt-get) say so: the browser test then skips with a clear message.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser test"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "make: could not install chromium: the browser test will be skipped"; \
	else echo "make: chromium is missing and installing it needs root and apt-get: the browser test will be skipped"; fi

bench: $(STAMP)
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/digits_bench.py

clean:
	rm -rf $(VENV) mutants results/*/sweep.npz results/*/run.json results/.partial

# Mutation testing of the core (README, "Mutation testing"): mutmut plants one small bug at a time in the functions
# tests/mutate.py lists, module by module, and runs that module's own tests on each; then the score per module.
# `make mutate MODULES=edujax.core.fractal` (re)runs one module and keeps the others' verdicts (while
# pyproject's [tool.mutmut] is unchanged: mutmut forgets them all when its configuration changes).
MODULES ?=

$(VENV)/.mutate: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,mutate]'
	touch $@

mutate: $(VENV)/.mutate
	$(if $(MODULES),,rm -rf mutants)
	$(PY) tests/mutate.py $(MODULES)
