# Two commands from a fresh clone: `make sweep` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: sweep test bench clean chromium

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

test: $(STAMP) chromium
	$(PY) -m pytest -q

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
	$(PY) -m edujax.bench

clean:
	rm -rf $(VENV) results/*/sweep.npz results/*/run.json results/.partial
