# The README's commands. `make run` and `make test` each install what they need first.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install run call console traffic worker test lint format bench faults push-bench softphone webbench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install          ## the hotline: web, worker and an embedded Redis, on http://127.0.0.1:5000
	$(PY) -m hotline_tools.launcher

call: install         ## a terminal phone that dials the hotline started by `make run`
	$(PY) -m hotline_tools.terminal $(ARGS)

console: install      ## an agent's console for the hotline of `make run`: make console ARGS="--token $$TOKEN"
	$(PY) -m hotline_tools.console $(ARGS)

traffic: install      ## a simulated busy hour through the real webhooks and agent API, with a report
	$(PY) -m bench.traffic $(ARGS)

worker: install       ## one more rq worker (needs REDIS_URL, or the running embedded Redis)
	$(PY) -m queue_worker

# Debian's Chromium and its driver, for the browser tests (tests/test_browser.py): installed where
# missing (CI runs as root), left alone where present.
BROWSER := /usr/bin/chromium /usr/bin/chromedriver
$(BROWSER):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

# pytest-xdist processes; each test file runs whole on one, so its module fixtures start once.
TEST_WORKERS ?= 2
test: install $(BROWSER)   ## the type check (mypy), then the whole test suite (on a private embedded Redis it starts itself)
	$(VENV)/bin/mypy
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: install         ## ruff's rules and format, and the type check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(VENV)/.bench-installed   ## the wait-estimate benchmark: make bench ARGS="--quick" or ARGS="--docs"
	$(PY) -m bench.waits $(ARGS)

softphone:            ## the agent desktop's softphone library (Twilio's Voice SDK, from npm, pinned in package-lock.json)
	npm ci --no-audit --no-fund

push-bench: install  ## the live push benchmark: boards one web process streams to, latency, Redis load
	$(PY) -m bench.push $(ARGS)

faults: install       ## the fault benchmark: real processes, live calls, faults; make faults ARGS="--quick"
	$(PY) -m bench.faults $(ARGS)

webbench: install     ## the webhook tier under HTTP load (needs wrk: apt-get install wrk); make webbench ARGS="--quick"
	$(PY) -m bench.web $(ARGS)
