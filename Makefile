# The README's two commands:
#   make dashboard   install what the dashboard needs and serve it with Voila
#   make test        install everything the tests need and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8866
NOTEBOOK ?= notebooks/03_analysis.ipynb

# Relative paths (EUDAIMONIA_DASHBOARD_SOURCE=store:data/results.sqlite, the dashboard's Path
# field) start where `make` was run, not in notebooks/ where the kernel runs.
export EUDAIMONIA_WORKDIR := $(CURDIR)
# Voila's own page template without its CDN stylesheet links, so the dashboard opens offline.
VOILA_OFFLINE := JUPYTER_PATH=$(CURDIR)/share/jupyter$${JUPYTER_PATH:+:$$JUPYTER_PATH}
# Containers and Binder run as root, which Jupyter refuses without this flag.
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

BASE_STAMP := $(VENV)/.installed-base
TEST_STAMP := $(VENV)/.installed-test

.PHONY: dashboard lab cli test install install-test browser fetch bench local-server clean

dashboard: $(BASE_STAMP)
	-@$(BIN)/eudaimonia-nb fetch || echo "note: benchmark not downloaded; the dashboard's embedded demo needs no download"
	@$(BIN)/python -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', $(PORT)))" 2>/dev/null || \
	  { echo "port $(PORT) is taken (another dashboard?): run  make dashboard PORT=8870" >&2; exit 1; }
	@echo "Serving the EUDAIMONIA dashboard at http://localhost:$(PORT)/ (Ctrl-C to stop)"
	@# The demo's model fits, computed once per machine into the disk cache, beside Voila's start.
	@(nice $(BIN)/python -m eudaimonia_nb.report.warm >/dev/null 2>&1 &)
	$(VOILA_OFFLINE) $(BIN)/voila $(NOTEBOOK) --port=$(PORT) --Voila.port_retries=0 --no-browser \
	  --Voila.ip=127.0.0.1 --preheat_kernel=True --template=eudaimonia

lab: $(BASE_STAMP)
	$(BIN)/jupyter lab notebooks/ $(ALLOW_ROOT)

# The command-line tool without activating the venv: make cli ARGS="runs"
cli: $(BASE_STAMP)
	$(BIN)/eudaimonia-nb $(ARGS)

test: $(TEST_STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(BASE_STAMP)
install-test: $(TEST_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install copies no data files: link the offline Voila template into the venv and
# make it the default, so plain `voila notebooks/...` and JupyterLab's Voila preview open offline.
$(BASE_STAMP): pyproject.toml binder/install-voila-template | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	PATH="$(abspath $(BIN)):$$PATH" binder/install-voila-template "$(abspath $(VENV))"
	touch $@

# The [server] extra compiles llama.cpp from source (about 9 minutes on 2 cores, once;
# pip caches the wheel); [batch] is the anthropic SDK for --batch anthropic; [inspect] is
# inspect-ai, for the Inspect task and logs (not the dashboard).
$(TEST_STAMP): $(BASE_STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,server,batch,inspect]'
	touch $@

# Debian's Chromium for the browser tests; Playwright drives it through executable_path
# and never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Offline OpenAI-compatible endpoint at http://127.0.0.1:8080/v1 (SmolLM2-135M: smoke test only).
local-server: $(TEST_STAMP)
	$(BIN)/eudaimonia-nb serve-local --port 8080

fetch: $(BASE_STAMP)
	$(BIN)/eudaimonia-nb fetch

# The prompt-explorer benchmark reads the real benchmark file (fetched if it is not cached).
bench: $(TEST_STAMP)
	-@$(BIN)/eudaimonia-nb fetch
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
