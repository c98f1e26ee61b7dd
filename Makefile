# crossbuild — build, test and synthesize everything from a clean clone.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

FUNCTIONS   := starter callback poller
GOARCH_LAMBDA ?= arm64
DIST        := dist
NPM_DIR     := tools/npm
NPM_BIN     := $(NPM_DIR)/node_modules/.bin
GO_TEST_FLAGS ?= -count=1
FUZZTIME    ?= 5s

export CROSSBUILD_NPM_BIN := $(abspath $(NPM_BIN))

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

$(DIST)/%/bootstrap: FORCE
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) go build -tags lambda.norpc -trimpath -ldflags="-s -w" -o $@ ./functions/$*
	@ls -l $@ | awk '{printf "  %s %d bytes\n", $$9, $$5}'

.PHONY: FORCE
FORCE:

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

.PHONY: test
test: tools lint build ## run every test (unit, wire, dynalite, fuzz seeds, CDK assertions, synth)
	go test $(GO_TEST_FLAGS) -race ./internal/... ./functions/...
	$(MAKE) fuzz-short
	@if [ -d infra ]; then $(MAKE) test-infra; fi

.PHONY: test-infra
test-infra: tools build
	go test $(GO_TEST_FLAGS) -timeout 20m ./infra/...

.PHONY: fuzz-short
fuzz-short: ## run each fuzz target briefly
	go test -run '^$$' -fuzz '^FuzzParseTarget$$' -fuzztime $(FUZZTIME) ./internal/target
	go test -run '^$$' -fuzz '^FuzzHandleEvent$$' -fuzztime $(FUZZTIME) ./functions/callback

.PHONY: bench
bench: ## run the hot-path benchmarks
	go test -run '^$$' -bench . -benchmem -count 5 ./functions/starter ./functions/callback

.PHONY: clean
clean: ## remove build outputs
	rm -rf $(DIST) infra/cdk.out
