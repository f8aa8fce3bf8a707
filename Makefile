# hls-edge-signer — build, test, benchmark and try it locally.
# `make run` and `make test` work on a fresh checkout with no AWS account.

CARGO ?= cargo
DEV   := .dev
SHARED_TESTDATA := ../shared/testdata

.PHONY: build test lint bench run fuzz clean

build:
	$(CARGO) build --release --bins

## Everything: formatting, lints, unit, property, vector, corpus and CLI tests.
test: lint
	$(CARGO) test --all-targets
	$(CARGO) test --doc

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

## Criterion benches plus reference measurements from the same run, as one table.
bench:
	$(CARGO) bench --bench signing --bench rewrite
	openssl speed -seconds 3 rsa2048 ecdsap256 > target/openssl-speed.txt 2>/dev/null
	./bench/node-baseline.sh target/bench-rewrite
	python3 bench/report.py target/openssl-speed.txt

## A local demonstration: a development key pair (made on first run, kept in
## .dev/, never committed), a signed URL, and CloudFront's verdict on it.
run: build
	@mkdir -p $(DEV)
	@test -f $(DEV)/private.pem || target/release/hls-sign keygen \
		--private-out $(DEV)/private.pem --public-out $(DEV)/public.pem
	@./scripts/demo.sh target/release/hls-sign $(DEV)

clean:
	$(CARGO) clean
	rm -rf $(DEV)
