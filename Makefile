# hls-edge-signer — build, test, benchmark and try it locally.
# `make run` and `make test` work on a fresh checkout with no AWS account.

CARGO ?= cargo
DEV   := .dev
SHARED_TESTDATA := ../shared/testdata
# Tools installed into the project by scripts/tools.sh come first on PATH.
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: build test lint deny bench run fuzz clean tools e2e-deps
.PHONY: test-template test-sam lambda-build test-lambda-build deploy keys upload sign

build:
	$(CARGO) build --release --bins

## Everything: formatting, lints, dependency checks, the template, the
## bootstrap build, and the unit, property, vector, corpus, security, CLI and
## end-to-end tests. Installs what it can into the project first.
test: tools lint deny test-template test-sam
	$(CARGO) test --all-targets
	$(CARGO) test --doc

## Python tools into .venv/, npm packages into tests/e2e/ (no root needed).
tools:
	@./scripts/tools.sh

## Advisories, licences, bans and sources of every dependency (deny.toml).
deny:
	@./scripts/deny.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

## Criterion benches plus reference measurements from the same run, as one table.
bench:
	$(CARGO) bench --bench signing --bench rewrite --bench rewrite_mpd --bench delivery
	openssl speed -seconds 3 rsa2048 ecdsap256 > target/openssl-speed.txt 2>/dev/null
	./bench/node-baseline.sh target/bench-rewrite
	$(CARGO) build --release --bins
	./bench/load.sh target/release/hls-sign target/bench-load
	python3 bench/lambda_cold.py target/release/hls-edge-signer target/release/hls-sign \
		target/bench-rewrite/key.pem \
		target/bench-rewrite target/bench-rewrite
	python3 bench/manifest_process.py target/release/hls-sign target/bench-rewrite/key.pem \
		target/bench-rewrite/media-1000.m3u8 target/bench-rewrite
	python3 bench/report.py target/openssl-speed.txt
	@if command -v ffmpeg >/dev/null; then \
		test -f target/bench-live/parts/parts.m3u8 || scripts/live-source.sh parts target/bench-live/parts 60; \
		python3 bench/live.py target/release/hls-sign target/bench-live/parts target/bench-rewrite/key.pem target/bench-live; \
	else echo "note: ffmpeg not found; live reloads not measured"; fi

## The local CloudFront emulator on the sample stream: a development key pair
## (made on first run, kept in .dev/, never committed), hls.js, dash.js and
## Shaka for the player page (npm, when available), then the server until
## Ctrl-C.
run: build e2e-deps
	@mkdir -p $(DEV)
	@test -f $(DEV)/private.pem || target/release/hls-sign keygen \
		--private-out $(DEV)/private.pem --public-out $(DEV)/public.pem
	@./scripts/run.sh target/release/hls-sign $(DEV) $(LISTEN)

LISTEN ?= 127.0.0.1:8080

## hls.js, dash.js, Shaka and playwright-core for the player page and the
## browser tests (skipped, with a note, where npm is missing).
e2e-deps: tools

clean:
	$(CARGO) clean
	rm -rf $(DEV)

## ---- Deploying to AWS (README, "Deploying to AWS") -------------------------
## The targets below refuse to run until the variables they need are set.

ARCH     ?= arm64
KEY_ALG  ?= rsa
TTL      ?= 3600
SAM      ?= sam
CFN_LINT ?= cfn-lint
PYTHON   ?= python3
HLS_SIGN ?= target/release/hls-sign

# $(call need,VAR ...): stop with a message unless every VAR is set.
need = $(foreach v,$(1),$(if $(strip $($(v))),,$(error $@: set $(v), e.g. make $@ $(v)=...)))
# PARAMS reaches sam as one argument, double quotes intact.
DEPLOY_PARAMS = $(if $(strip $(PARAMS)),'$(PARAMS)')
LAMBDA_ARCH_FLAG = $(if $(filter arm64,$(ARCH)),--arm64,$(if $(filter x86_64,$(ARCH)),--x86-64,$(error ARCH must be arm64 or x86_64, not '$(ARCH)')))

## The deployment template: cfn-lint, its security properties, and the
## CloudFront Function run with node on sample requests.
test-template:
	@if command -v $(CFN_LINT) >/dev/null; then $(CFN_LINT) template.yaml; \
	elif [ -n "$$HLS_REQUIRE_E2E" ]; then echo "cfn-lint is required here" >&2; exit 1; \
	else echo "note: cfn-lint not installed (scripts/tools.sh); template lint skipped"; fi
	$(PYTHON) tests/template_test.py

## SAM as users run it: validate (with its linter) and build the default
## arm64 bootstrap (cargo-lambda cross-compiles with zig, as `make deploy`
## does), then check the binary it produced.
test-sam:
	@if ! command -v $(SAM) >/dev/null || ! command -v cargo-lambda >/dev/null; then \
		if [ -n "$$HLS_REQUIRE_E2E" ]; then echo "sam and cargo-lambda are required here" >&2; exit 1; fi; \
		echo "note: sam or cargo-lambda not installed (scripts/tools.sh); SAM validate and build skipped"; \
	else \
		SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --region us-east-1 && \
		SAM_CLI_TELEMETRY=0 $(SAM) build --beta-features --parameter-overrides Architecture=arm64 && \
		$(PYTHON) scripts/check-bootstrap.py .aws-sam/build/SignerFunction/bootstrap arm64; \
	fi

## The Lambda binary for provided.al2023 (cargo-lambda cross-compiles with zig;
## LAMBDA_COMPILER=cargo builds natively where the host matches ARCH).
LAMBDA_COMPILER ?=
lambda-build:
	$(CARGO) lambda build --release $(LAMBDA_ARCH_FLAG) --bin hls-edge-signer \
		$(if $(LAMBDA_COMPILER),--compiler $(LAMBDA_COMPILER))
	test -x target/lambda/hls-edge-signer/bootstrap

## The bootstrap builds with cargo-lambda (natively for this host's
## architecture; skipped with a note where cargo-lambda is missing).
test-lambda-build:
	@if command -v cargo-lambda >/dev/null; then \
		$(MAKE) --no-print-directory lambda-build ARCH=$(HOST_ARCH) LAMBDA_COMPILER=cargo; \
	elif [ -n "$$HLS_REQUIRE_E2E" ]; then echo "cargo-lambda is required here" >&2; exit 1; \
	else echo "note: cargo-lambda not installed (pip install cargo-lambda); bootstrap build skipped"; fi

HOST_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)

## sam build + deploy; guided the first time (writes samconfig.toml).
## PARAMS='Key=Value ...' overrides parameters on top of the previous values;
## quote values holding spaces with double quotes: PARAMS='PublicKeyPem="..."'.
deploy:
	@: $(LAMBDA_ARCH_FLAG)
	$(SAM) build --beta-features --parameter-overrides Architecture=$(ARCH)
	@if [ -f samconfig.toml ]; then \
		echo "$(SAM) deploy (settings from samconfig.toml)"; \
		$(SAM) deploy --parameter-overrides Architecture=$(ARCH) $(DEPLOY_PARAMS); \
	else \
		$(SAM) deploy --guided --parameter-overrides Architecture=$(ARCH) $(DEPLOY_PARAMS); \
	fi

## A signing key pair; the private key goes to Secrets Manager.
keys:
	$(call need,SECRET_NAME)
	./scripts/keys.sh $(KEY_ALG) $(SECRET_NAME) $(REGION)

## Upload a stream directory to the media bucket.
upload:
	$(call need,STREAM_DIR BUCKET)
	./scripts/upload.sh $(STREAM_DIR) $(BUCKET) $(PREFIX)

## A signed URL for a deployed master playlist (KEY=file or SECRET=arn).
sign:
	$(call need,DOMAIN STREAM_PATH KEY_PAIR_ID)
	$(if $(KEY)$(SECRET),,$(error sign: set KEY=private.pem or SECRET=<secret ARN>))
	HLS_SIGN=$(HLS_SIGN) ./scripts/sign.sh --domain $(DOMAIN) --path $(STREAM_PATH) \
		--key-pair-id $(KEY_PAIR_ID) --ttl $(TTL) \
		$(if $(KEY),--key $(KEY)) $(if $(SECRET),--secret $(SECRET)) \
		$(if $(REGION),--region $(REGION)) $(if $(RESOURCE),--resource '$(RESOURCE)')
