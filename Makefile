# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[agents,dev,cluster]' -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ranemu demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# Speed figures (printed, not asserted); minutes long, not part of `make test`.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_radio.py
	$(BIN)/python benchmarks/bench_ran.py
	$(BIN)/python benchmarks/bench_bridge.py

clean:
	rm -rf $(VENV) runs build *.egg-info
