# mcpgov — run `make help` for the targets.
#
# Every tool a target needs is installed into .cache/ (ignored by git), so a
# fresh machine needs only Go and make.

GO       ?= go
CACHE    := $(CURDIR)/.cache
TOOLS    := $(CACHE)/bin
BINARY   := bin/mcpgov
CLI_PKG  := github.com/mcpgov/mcpgov/cmd/mcpgov/cli

STATICCHECK_VERSION := v0.8.2
GORELEASER_VERSION  := v2.15.1
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
GORELEASER  := $(TOOLS)/goreleaser-$(GORELEASER_VERSION)

# Real MCP clients and servers the end-to-end tests drive, pinned in
# testdata/e2e/package.json + package-lock.json and installed into .cache/npm.
NPM_DIR   := $(CACHE)/npm
NPM_STAMP := $(NPM_DIR)/.installed
E2E_PATH  := $(NPM_DIR)/node_modules/.bin:$(PATH)

FUZZ_PKGS ?= ./scan/ ./policy/guard/
FUZZTIME ?= 5s

# Stamped into the binary; empty outside a git checkout, and the binary then
# falls back to its module build info.
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT  := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
DATE    := $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS := -s -w -X $(CLI_PKG).version=$(VERSION) -X $(CLI_PKG).commit=$(COMMIT) -X $(CLI_PKG).date=$(DATE)

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.PHONY: help build test e2e-deps fuzz-smoke bench eval lint docs docs-check snapshot clean

help: ## list the targets
	@echo "usage: make TARGET"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/mcpgov with version, commit and date stamped in
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) ./cmd/mcpgov

test: e2e-deps ## everything CI runs: lint, go test -race with the real clients, docs-check, fuzz-smoke
	@$(MAKE) --no-print-directory lint
	PATH="$(E2E_PATH)" MCPGOV_E2E=1 $(GO) test -race -count=1 ./...
	@$(MAKE) --no-print-directory docs-check
	@$(MAKE) --no-print-directory fuzz-smoke

e2e-deps: $(NPM_STAMP) ## install the real clients and servers the end-to-end tests use into .cache/npm

$(NPM_STAMP): testdata/e2e/package.json testdata/e2e/package-lock.json
	@mkdir -p $(NPM_DIR)
	cp testdata/e2e/package.json testdata/e2e/package-lock.json $(NPM_DIR)/
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

fuzz-smoke: ## run each fuzz target in scan/ and policy/guard/ for 5s (FUZZTIME=…)
	@for pkg in $(FUZZ_PKGS); do \
		list=$$($(GO) test -list '^Fuzz' $$pkg) || { echo "$$list"; exit 1; }; \
		targets=$$(grep '^Fuzz' <<<"$$list" || true); \
		if [ -z "$$targets" ]; then echo "fuzz-smoke: no fuzz targets in $$pkg"; continue; fi; \
		for t in $$targets; do \
			echo "fuzz-smoke: $$pkg $$t for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Benchmark pairs "measured:baseline" whose ratio `make bench` reports.
BENCH_PAIRS := ScanFleetHome:ReadFilesOnly ShimEcho:DirectEcho ShimEchoEverything:DirectEchoEverything ShimStartup:DirectStartup RelayHop:PipeHop RelayHopRecorded:RelayHop Pipeline:DecodeOnly PipelineRego:Pipeline RegoDecision:DecodeOnly RegoDecisionCached:RegoDecision ShimEchoGuarded:ShimEcho
BENCH_COUNT ?= 3

bench: ## run the Go benchmarks and report ratios against baselines measured in the same run
	@mkdir -p $(CACHE)
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./... | tee $(CACHE)/bench.txt
	@awk -v PAIRS="$(BENCH_PAIRS)" -f .ci/bench-ratios.awk $(CACHE)/bench.txt

eval: ## precision and recall of every guardrail on testdata/guardrails (and the shared public set when present)
	$(GO) test -count=1 -run '^TestEval$$' -v ./policy/guard/ | grep -v -e '^=== RUN' -e '^--- ' -e '^PASS' -e '^ok '

lint: $(STATICCHECK) ## gofmt (must list nothing), go vet, staticcheck
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.cache/*' -not -path './dist/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	STATICCHECK_CACHE=$(CACHE)/staticcheck $(STATICCHECK) ./...

docs: ## regenerate the command reference in README.md
	$(GO) run ./cmd/gen-docs --readme README.md

docs-check: ## fail if the command reference in README.md is out of date
	$(GO) run ./cmd/gen-docs --readme README.md --check

snapshot: $(GORELEASER) ## local release build with goreleaser into dist/ (publishes nothing)
	$(GORELEASER) check
	$(GORELEASER) release --snapshot --clean

clean: ## remove build output and generated docs (keeps the tools in .cache/)
	rm -rf bin dist dist-docs

# Tools are installed under a versioned name, so changing a version above
# installs the new one on the next run.
$(STATICCHECK):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/staticcheck $@

$(GORELEASER):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
	mv $(TOOLS)/goreleaser $@
