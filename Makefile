# seqex: every target installs what is missing first, so a fresh clone needs only `make <target>`.
NODE_MODULES_STAMP := node_modules/.seqex-installed

.PHONY: all install build run test bench loadtest clean

all: build

# `npm ci` only when node_modules is missing or older than the lock file.
$(NODE_MODULES_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NODE_MODULES_STAMP)

build: install
	npx tsc -p tsconfig.json

# the exchange on the embedded default (SPEC §5): REST + binary WebSocket on :8080, data in journal/,
# demo symbols and a funded demo account (its API key and the admin token are printed); Ctrl-C stops it
run: build
	node dist/tools/cli/seqex.js serve $(RUN_ARGS)

test: build
	npx tsc -p tsconfig.test.json
	npx vitest run

bench: build
	node --expose-gc dist/tools/bench/engine-bench.js $(BENCH_ARGS)
	node dist/tools/bench/journal-bench.js $(BENCH_ARGS)
	node dist/tools/bench/sequencer-bench.js $(BENCH_ARGS)
	node dist/tools/bench/restart-bench.js $(BENCH_ARGS)
	# the running exchange (issue 4): binary WebSocket at 1,000 orders/s open loop and at saturation
	node dist/tools/load/ws-load.js --rate 1000 --duration 5 --json-only
	node dist/tools/load/ws-load.js --saturate --duration 5 --json-only
	# market data and reports (issue 5): 1,000 subscribers at a low order rate (with / without them), the report writer
	node dist/tools/load/md-load.js --subscribers 1000 --rate 100 --duration 5 --json-only
	node dist/tools/bench/report-bench.js --quick
	# bare SQLite with the writer's settings and row shapes, nothing else: the writer's ceiling here
	node dist/tools/bench/sqlite-ceiling.js --quick

# autocannon against POST /v1/order (tools/load/rest-load.ts): starts its own server unless
# LOADTEST_ARGS has --url; e.g. make loadtest LOADTEST_ARGS="--duration 30 --connections 100 --gateways 2"
loadtest: build
	node dist/tools/load/rest-load.js $(LOADTEST_ARGS)

clean:
	rm -rf dist

.PHONY: loadtest-ws loadtest-idle loadtest-baseline loadtest-baseline-md loadtest-md

# binary WebSocket order entry (tools/load/ws-load.ts): open loop at --rate (default 50,000/s) over
# several sessions, order-to-ack HdrHistogram from the intended send times; --saturate for the
# sustained maximum; starts its own server unless given --url; e.g.
# make loadtest-ws LOADTEST_WS_ARGS="--saturate --duration 20"
loadtest-ws: build
	node dist/tools/load/ws-load.js $(LOADTEST_WS_ARGS)

# 10,000 idle authenticated binary WebSocket sessions and the server's RSS (tools/load/ws-idle.ts);
# each side needs a file descriptor per session
loadtest-idle: build
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; node dist/tools/load/ws-idle.js $(LOADTEST_IDLE_ARGS)

# the machine's ceiling (tools/load/baseline.ts): the same load generators against bare uWebSockets.js
# with nothing behind it; e.g. make loadtest-baseline LOADTEST_BASELINE_ARGS="--duration 10"
loadtest-baseline: build
	node dist/tools/load/baseline.js $(LOADTEST_BASELINE_ARGS)

# the fan-out's ceiling (tools/load/baseline-md.ts): md-load's 1,000 subscribers against bare
# uWebSockets.js and against seqex in one run, at 20 / 100 / 1,000 updates a second
loadtest-baseline-md: build
	node dist/tools/load/baseline.js --md $(LOADTEST_BASELINE_MD_ARGS)

# market-data fan-out (tools/load/md-load.ts): 1,000 /v1/md subscribers to l2 + trades of AAPL under
# ws-load, their delay from the engine's ts, then the same ws-load without them; e.g. LOADTEST_MD_ARGS="--saturate"
loadtest-md: build
	node dist/tools/load/md-load.js $(LOADTEST_MD_ARGS)
