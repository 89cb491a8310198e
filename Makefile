# xaicnn: setup / demo / test / bench. Every target is idempotent and starts from a bare machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

# Re-install only when the package metadata changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Train the demo set into checkpoints/demo/ (~30 s on 2 idle CPU cores, a few minutes on a busy machine;
# existing runs are skipped), then serve the comparison app on http://localhost:8501 (or the next free port).
demo: setup
	$(BIN)/python -m xaicnn.demo --out checkpoints/demo

# The browser test drives the system Chromium: install it with apt when missing and we are root (never
# fails the target; without Chromium that test is skipped with the reason).
test: setup
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium for the browser test (apt-get, quiet)..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	    >/dev/null 2>&1 || echo "note: could not install chromium; the browser test will be skipped"; \
	fi
	$(BIN)/python -m pytest -q

# Figures only, nothing asserted (see docs/performance.md). The app timing needs the demo runs: trained first.
bench: setup
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/attribution_throughput.py
	$(BIN)/python bench/ig_vs_captum.py
	$(BIN)/python bench/cka_throughput.py
	$(BIN)/python bench/erf_throughput.py
	$(BIN)/python bench/allocator_faults.py
	$(BIN)/python bench/step_profile.py
	$(BIN)/python bench/time_to_accuracy.py
	$(BIN)/python -m xaicnn.demo --out checkpoints/demo --no-app
	$(BIN)/python bench/app_interaction.py --folder checkpoints/demo

clean:
	rm -rf $(VENV) build *.egg-info
