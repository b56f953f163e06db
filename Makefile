# Everything a fresh Debian machine needs, then the job. `make demo` and `make test` are the
# README's two commands; both install system packages (apt) and a virtual environment themselves.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# libportaudio2: sounddevice; jackd2: the virtual interface (and the live tests' audio server);
# libsndfile1: soundfile's wheels bundle it, but not on every platform; gcc, libc6-dev: the load test's
# C client (benchmarks/c_clients/busy_thru.c).
APT_PACKAGES := libportaudio2 jackd2 libsndfile1 gcc libc6-dev

.PHONY: demo test setup setup-test system-packages bench fixtures clean

# The main job: the default amp model live on the audio interface (keys: b bypass, 1-9 model,
# q quit). Without an interface it runs the same live path on a virtual one (a JACK dummy server)
# and writes what came out to out/demo-virtual.wav.
demo: setup
	$(BIN)/engine-live --config configs/guitar.yaml --virtual-if-no-device --record out/demo-virtual.wav --force

test: setup-test
	$(BIN)/python -m pytest -q

# The kernels' speed beside PyTorch (the README table); engine-bench alone needs no torch.
bench: setup-test
	mkdir -p benchmarks/results
	$(BIN)/python benchmarks/speed_vs_torch.py --json benchmarks/results/latest.json

# Regenerate the committed PyTorch reference fixtures (needs the tools extra: torch).
fixtures: setup-test
	$(BIN)/python tools/make_fixtures.py

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: system-packages $(VENV)/.installed
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[virtual]"
	touch $@

# Tests also need pytest, scipy and torch (for the exporter and torch-vs-engine checks).
setup-test: system-packages $(VENV)/.installed-test
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test,tools]"
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
