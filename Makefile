# Two commands for a new user: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell (cat requirements.txt; echo) | sha256sum | cut -c1-12)
PORT ?= 8501

.PHONY: install browser run index test test-fast lint clean

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium).
browser:
	@test -x /usr/bin/chromium || { echo "Installerar Chromium för webbläsartesterna…"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

index: install
	$(PY) -m indexer

run: install
	@test -f .kb/index/CURRENT || $(PY) -m indexer
	$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

# The tests run with networking switched off (a new network namespace with only loopback) where
# the machine allows it, as CI does: nothing at run time may need the internet.
test: install browser
	@if unshare -n true 2>/dev/null; then \
		echo "Testerna körs utan nätverk (unshare -n, bara loopback)."; \
		unshare -n sh -c 'ip link set lo up && KB_EXPECT_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)'; \
	else \
		echo "Obs: unshare -n är inte tillåtet här; testerna körs med nätverk."; \
		$(PY) -m pytest $(PYTEST_ARGS); \
	fi

# The inner loop: the suite without the slow, browser, load, crash and server tests.
test-fast: install
	$(PY) -m pytest -m "not slow and not server" --ignore=tests/test_browser.py --ignore=tests/test_load.py \
		--ignore=tests/test_crash_safety.py --durations=15 $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy kb_app indexer

clean:
	rm -rf .kb .pytest_cache .mypy_cache .ruff_cache
