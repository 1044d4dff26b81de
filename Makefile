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
# below and runs the fast test subset of [tool.mutmut] in pyproject.toml; tests/mutation_score.py prints the score.
# One line per module (dotted paths); pyproject's only_mutate lists their files.
MUTATE_SCOPE := 'edujax.core.outcomes.*' 'edujax.core.grid.*' 'edujax.core.fractal.*' 'edujax.store.files.*' \
	'edujax.runner.trace.x*RecordPlan*' 'edujax.runner.chunks.x_checkpoint_folder*' \
	'edujax.runner.chunks.x_save_chunk*' 'edujax.runner.chunks.x_load_chunk*' 'edujax.runner.chunks.x_run_chunks*' \
	'edujax.runner.chunks.x_place*' \
	'edujax.runner.devices.x_parse_bytes*' 'edujax.runner.devices.x_format_bytes*' 'edujax.runner.devices.x_default_*' \
	'edujax.runner.devices.x_nbytes*' 'edujax.store.result.x*SweepResult*save*' 'edujax.store.result.x*SweepResult*load*' \
	'edujax.store.result.x*SweepResult*from_saved*' 'edujax.store.result.x*SweepResult*summary*' \
	'edujax.store.result.x_storable*' 'edujax.store.result.x_restore_state*' 'edujax.store.result.x__is_key*' \
	'edujax.store.result.x_state_tree*' 'edujax.core.experiment.x_evaluate_boundaries*' \
	'edujax.app.cli.x_parse_at*' 'edujax.app.cli.x_main*' 'edujax.app.compare.x_write*' 'edujax.app.zoom.x_save*'

$(VENV)/.mutate: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,mutate]'
	touch $@

# The JAX compilation cache (inside mutants/) spares every mutant's process the compiles its tests already did.
mutate: $(VENV)/.mutate
	rm -rf mutants && mkdir mutants
	JAX_COMPILATION_CACHE_DIR=$(CURDIR)/mutants/.jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
		JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0 $(VENV)/bin/mutmut run --max-children 2 $(MUTATE_SCOPE) \
		>mutants/run.log 2>&1 || { tail -c 3000 mutants/run.log; exit 1; }
	$(PY) tests/mutation_score.py $(MUTATE_SCOPE)
