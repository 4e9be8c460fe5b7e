# seqex: every target installs what is missing first, so a fresh clone needs only `make <target>`.
NODE_MODULES_STAMP := node_modules/.seqex-installed

.PHONY: all install build test bench clean

all: build

# `npm ci` only when node_modules is missing or older than the lock file.
$(NODE_MODULES_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NODE_MODULES_STAMP)

build: install
	npx tsc -p tsconfig.json

test: build
	npx tsc -p tsconfig.test.json
	npx vitest run

bench: build
	node --expose-gc dist/tools/bench/engine-bench.js $(BENCH_ARGS)
	node dist/tools/bench/journal-bench.js $(BENCH_ARGS)
	node dist/tools/bench/sequencer-bench.js $(BENCH_ARGS)
	node dist/tools/bench/restart-bench.js $(BENCH_ARGS)

clean:
	rm -rf dist
