# algotrader: build, test, demo and bench from a fresh Debian machine.
# `make demo` and `make test` install missing system packages (when root), start a throwaway
# PostgreSQL under .data/ and run; see README.md.

SWIFT        ?= swift
DEMO_PORT    ?= 55432
TEST_PORT    ?= 55433
DEMO_TICKS   ?= 200000
DEMO_RATE    ?= 50000
DEMO_DIR     := .data/pg-demo
TEST_DIR     := .data/pg-test
TEST_URL     := $(shell scripts/pg-cluster.sh url $(TEST_PORT))
DEMO_URL     := $(shell scripts/pg-cluster.sh url $(DEMO_PORT))
BIN          := .build/release/algotrader

.PHONY: all build release deps test test-db test-python test-brokers test-web demo demo-stop bench bench-build bench-peer-deps bench-typecheck bench-smoke fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product algotrader

# A fresh throwaway cluster for every test run, so no state leaks between runs.
test-db: deps
	@scripts/pg-cluster.sh reset $(TEST_DIR)
	@scripts/pg-cluster.sh start $(TEST_DIR) $(TEST_PORT)

TSDB_PORT    ?= 55434
TSDB_DIR     := .data/pg-test-timescaledb

# The suite runs against plain PostgreSQL (native partitioning); where TimescaleDB is installed
# it runs a second time against a cluster that preloads it (the hypertable layout).
test: test-db
	@brokers/venv.sh .build-brokers/venv >/dev/null  # the Swift suite starts the fake Kite and the Kite gateway from it
	$(SWIFT) build --build-tests
	ALGOTRADER_TEST_DATABASE_URL=$(TEST_URL) $(SWIFT) test --skip-build; \
	  status=$$?; scripts/pg-cluster.sh stop $(TEST_DIR); exit $$status
	@if scripts/pg-cluster.sh has-timescaledb; then \
	  echo "TimescaleDB is installed: running the suite again on a hypertable layout"; \
	  scripts/pg-cluster.sh reset $(TSDB_DIR); \
	  scripts/pg-cluster.sh start $(TSDB_DIR) $(TSDB_PORT) timescaledb && \
	  ALGOTRADER_TEST_DATABASE_URL=$$(scripts/pg-cluster.sh url $(TSDB_PORT)) $(SWIFT) test --skip-build; \
	  status=$$?; scripts/pg-cluster.sh stop $(TSDB_DIR); exit $$status; \
	else echo "TimescaleDB not installed: hypertable layout not exercised (native partitioning was)"; fi
	scripts/check-unit.sh .build/debug/algotrader
	$(MAKE) test-python
	$(MAKE) test-web
	$(MAKE) fuzz FUZZ_SECONDS=30

# The Python SDK (sdk/python), from the source tree (no pip install of it): its types under
# mypy --strict (the package, the examples, the tests), then its pytest suite, which plays the
# engine's strategy socket itself (a pyzmq ROUTER). The pinned tools: sdk/python/requirements-test.txt
# (`make deps` installs them).
test-python:
	PYTHONPATH=sdk/python python3 -m mypy --strict --config-file sdk/python/pyproject.toml --cache-dir .build-mypy \
	  sdk/python/algotrader_sdk sdk/python/examples sdk/python/tests
	PYTHONPATH=sdk/python python3 -m pytest -q sdk/python/tests
	$(MAKE) test-brokers

# The broker gateways and publishers (brokers/python) in their own venv with the brokers' SDKs
# pinned (brokers/venv.sh): mypy --strict, then their pytest suite against local fakes of the
# brokers' documented APIs.
BROKERS_PY := .build-brokers/venv/bin/python
test-brokers:
	@brokers/venv.sh .build-brokers/venv >/dev/null
	cd brokers/python && ../../$(BROKERS_PY) -m mypy --strict --config-file pyproject.toml --cache-dir ../../.build-mypy-brokers algotrader_brokers tests
	cd brokers/python && ../../$(BROKERS_PY) -m pytest -q tests

# The web process from outside (Tests/web, its tools pinned in Tests/web/requirements.txt): a
# system started as a user would (PostgreSQL under .data/, serve, the synthetic feed, web), then
# schemathesis against the OpenAPI document with each role's token. Needs the debug binary
# (`make test` builds it first).
WEB_PY := .build-web/venv/bin/python
test-web:
	@scripts/python-venv.sh .build-web/venv Tests/web/requirements.txt >/dev/null
	$(WEB_PY) -m mypy --strict --cache-dir .build-mypy-web Tests/web
	cd Tests/web && ../../$(WEB_PY) -m pytest -q -p no:cacheprovider .

demo: release
	@scripts/demo.sh $(DEMO_DIR) $(DEMO_PORT) $(DEMO_TICKS) $(DEMO_RATE)

demo-stop:
	@scripts/pg-cluster.sh stop $(DEMO_DIR)

clean:
	rm -rf .build .data

FUZZ_SECONDS ?= 60
# libFuzzer + AddressSanitizer over everything read from outside, along each whole path: tick
# bytes through the decoder, edge validation, bars and the COPY row encoder; replay requests
# through their parser; gateway messages through their parser into a trading desk (the first
# byte of an input picks the path; Fuzz/EdgeFuzz.swift). The domain core has no dependencies, so
# it is compiled with the target as one module. A crash leaves its input in crash-* here.
fuzz: deps
	mkdir -p .build-fuzz .data/fuzz-corpus
	swiftc -parse-as-library -module-name EdgeFuzz -sanitize=fuzzer,address -O -g \
	  $$(find Sources/TradingCore -name '*.swift') Fuzz/EdgeFuzz.swift -o .build-fuzz/edge-fuzz
	cp -n Fuzz/corpus/* .data/fuzz-corpus/ 2>/dev/null || true
	.build-fuzz/edge-fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=5 .data/fuzz-corpus

BENCH_PORT   ?= 55435
BENCH_DIR    := .data/pg-bench
BENCH_TICKS  ?= 500000
BENCH_BIN    := .build-bench/release/AlgotraderBench
BENCH_ARGS   := --database-url $(shell scripts/pg-cluster.sh url $(BENCH_PORT)) --binary $(BIN)

bench-build: release
	$(SWIFT) build --package-path Benchmarks --scratch-path .build-bench -c release

# Row 6b's peer, NautilusTrader (pinned in the script), in a venv under .build-bench/.
NAUTILUS_PY  := .build-bench/nautilus-venv/bin/python

bench-peer-deps:
	@Benchmarks/nautilus-venv.sh .build-bench/nautilus-venv >/dev/null

# The bench's Python under mypy --strict (the Nautilus runner against its venv's packages).
bench-typecheck: bench-peer-deps
	PYTHONPATH=sdk/python python3 -m mypy --config-file Benchmarks/python/mypy.ini --cache-dir .build-mypy \
	  Benchmarks/python/lockstep_bound.py Benchmarks/python/sdk_latency_probe.py
	python3 -m mypy --config-file Benchmarks/python/mypy.ini --cache-dir .build-mypy --python-executable $(NAUTILUS_PY) \
	  Benchmarks/python/nautilus_sma_peer.py

# Every figure beside its baseline, measured in one run; results go to docs/performance.md.
# BENCH_PEER_ONLY=1 (like BENCH_MEMORY_ONLY=1 and the others, Benchmarks/.../Bench.swift) runs
# row 6b alone and prints it.
bench: bench-build bench-peer-deps
	@scripts/pg-cluster.sh start $(BENCH_DIR) $(BENCH_PORT)
	$(BENCH_BIN) $(BENCH_ARGS) --nautilus-python $(NAUTILUS_PY) --ticks $(BENCH_TICKS) --output docs/performance.md; \
	  status=$$?; scripts/pg-cluster.sh stop $(BENCH_DIR); exit $$status

# The same harness with small sizes, so CI keeps it working (report under .data/).
bench-smoke: bench-build bench-peer-deps
	@scripts/pg-cluster.sh start $(BENCH_DIR) $(BENCH_PORT)
	$(BENCH_BIN) $(BENCH_ARGS) --nautilus-python $(NAUTILUS_PY) --smoke --output .data/bench-smoke.md; \
	  status=$$?; scripts/pg-cluster.sh stop $(BENCH_DIR); exit $$status
