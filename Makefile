# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[agents,dev,rl,cluster,rllib]' -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ranemu demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q tests

# The dashboard test drives a headless Chromium: install Debian's where we may (root, apt-get);
# elsewhere that test skips and says why.
.PHONY: browser
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	  >/dev/null 2>&1; } || true

# Speed figures (printed, not asserted); minutes long, not part of `make test`.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_radio.py
	$(BIN)/python benchmarks/bench_ran.py
	$(BIN)/python benchmarks/bench_bridge.py

clean:
	rm -rf $(VENV) runs build *.egg-info
