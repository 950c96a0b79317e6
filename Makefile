# mcpgov — run `make help` for the targets.
#
# A fresh (Linux) machine needs Go (the version in go.mod), make, bash, a C
# compiler (cgo: go test -race and the Dex build), Node.js 20+ with npm (the
# end-to-end clients and servers are npm packages), git, and root or sudo
# once for apt (keyring-deps installs gnome-keyring and dbus-daemon); see
# README.md, Development. Every other tool a target needs is installed into
# .cache/ (ignored by git) at a pinned version.

GO       ?= go
CACHE    := $(CURDIR)/.cache
TOOLS    := $(CACHE)/bin
BINARY   := bin/mcpgov
CLI_PKG  := github.com/mcpgov/mcpgov/cmd/mcpgov/cli

STATICCHECK_VERSION := v0.8.2
GORELEASER_VERSION  := v2.15.1
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
GORELEASER  := $(TOOLS)/goreleaser-$(GORELEASER_VERSION)

# gitleaks, run by `make eval` on the same secrets cases as mcpgov's secrets
# guardrail so that both sets of figures come from one run (issue 17). Built
# from the Go module proxy like the tools above.
GITLEAKS_VERSION := v8.30.1
GITLEAKS         := $(TOOLS)/gitleaks-$(GITLEAKS_VERSION)

# syft writes the SBOM of each release archive (goreleaser's sboms). It is a
# Go module, so `go install` builds it from the module proxy (~5-10 minutes
# cold); goreleaser finds it on PATH under its own name, hence the directory.
SYFT_VERSION := v1.57.2
SYFT         := $(TOOLS)/syft-$(SYFT_VERSION)/syft

# Real MCP clients and servers the end-to-end tests drive, and the install
# tools (add-mcp, install-mcp) whose configs the scan tests read, pinned in
# testdata/e2e/package.json + package-lock.json and installed into .cache/npm.
NPM_DIR   := $(CACHE)/npm
NPM_STAMP := $(NPM_DIR)/.installed

# The stdio-to-HTTP bridges BenchmarkBridgeRounds measures the gateway
# against (npm supergateway and mcp-proxy), pinned in testdata/bench/peers
# and installed into .cache/npm-peers by make bench-peers alone: the tests
# never need them, and make bench-report leaves them out when absent.
NPM_PEERS_DIR   := $(CACHE)/npm-peers
NPM_PEERS_STAMP := $(NPM_PEERS_DIR)/.installed

# The OpenTelemetry Collector the audit tests ship records to: built with the
# collector builder from testdata/otelcol/builder-config.yaml (pinned
# components) into .cache/otelcol/bin. About 2-3 minutes cold, cached after.
OTELCOL_BUILDER_VERSION := v0.165.0
OTELCOL_DIR     := $(CACHE)/otelcol
OTELCOL_BUILDER := $(TOOLS)/builder-$(OTELCOL_BUILDER_VERSION)/builder
OTELCOL         := $(OTELCOL_DIR)/bin/otelcol-mcpgov

# DuckDB for reading the audit Parquet export: npm @duckdb/node-api, pinned
# here rather than in testdata/e2e's lock because the registry serves only
# its linux-x64 bindings, so no lock `npm ci` accepts can be written. It
# installs into .cache/duckdb with testdata/e2e/duckdb-query.cjs as
# .cache/duckdb/bin/duckdb-query.
DUCKDB_NODE_VERSION := 1.5.6-r.1
DUCKDB_DIR          := $(CACHE)/duckdb
DUCKDB_QUERY        := $(DUCKDB_DIR)/bin/duckdb-query
DUCKDB_STAMP        := $(DUCKDB_DIR)/.installed-$(DUCKDB_NODE_VERSION)

# node oidc-provider, the loopback authorization server of the outbound
# client-credentials tests (Dex v2.45 has no client_credentials grant),
# installed into .cache/oidc-provider with testdata/idp/oidc-provider-cc.mjs
# as .cache/oidc-provider/bin/oidc-provider-cc.
OIDCP_VERSION := 9.13.3
OIDCP_DIR     := $(CACHE)/oidc-provider
OIDCP_CC      := $(OIDCP_DIR)/bin/oidc-provider-cc
OIDCP_STAMP   := $(OIDCP_DIR)/.installed-$(OIDCP_VERSION)

# versitygw, the S3-compatible server (posix backend, versioning, Object
# Lock) the central-audit tests ship Parquet objects to; Apache-2.0, built
# from the Go module proxy (~5 minutes cold, ~80 MB).
VERSITYGW_VERSION := v1.8.0
VERSITYGW         := $(TOOLS)/versitygw-$(VERSITYGW_VERSION)/versitygw

# kubeconform validates the Kubernetes manifests in shim/gateway/deploy.
# It needs JSON schemas, which it would download; here they are generated
# offline from the OpenAPI v3 documents inside the k8s.io/kubernetes module
# (18 MB from the Go module proxy) by testdata/tools/k8sschema.
KUBECONFORM_VERSION := v0.7.0
KUBECONFORM         := $(TOOLS)/kubeconform-$(KUBECONFORM_VERSION)/kubeconform
K8S_SCHEMA_VERSION  := v1.34.2
K8S_SCHEMAS         := $(CACHE)/k8s-schemas-$(K8S_SCHEMA_VERSION)
K8S_SCHEMAS_STAMP   := $(K8S_SCHEMAS)/.generated

E2E_PATH  := $(NPM_DIR)/node_modules/.bin:$(OTELCOL_DIR)/bin:$(DUCKDB_DIR)/bin:$(OIDCP_DIR)/bin:$(dir $(VERSITYGW)):$(dir $(KUBECONFORM)):$(PATH)

# Dex, the identity provider the login tests start on loopback. It is built
# from the Go module proxy at the version pinned in testdata/tools/dex/go.mod: a
# pseudo-version of v2.45.1, because Dex's module path has no /v2 and its
# replace directive rules out `go install`. The cold build takes ~4 minutes;
# the binary is kept under its version's name, so later runs reuse it.
DEX_VERSION := v2.45.1
DEX         := $(TOOLS)/dex-$(DEX_VERSION)

# The time limit of each test binary, which also bounds every wait in the
# tests (they wait for conditions, not for fixed times): cmd/mcpgov's
# end-to-end tests took ~8 minutes on a busy 2-core machine, too close to
# go test's default of 10.
TEST_TIMEOUT ?= 30m

# ToolHive's thv, the peer gateway BenchmarkGatewayRounds measures beside
# mcpgov's (`thv vmcp serve`, which runs without a container runtime; DESIGN
# §9). v0.47.0 is its newest release that builds with this Go; it is pinned
# in testdata/tools/thv/go.mod and built from the module proxy (~10 minutes
# cold, ~180 MB), only by `make thv`: make bench leaves the vMCP side out,
# with a message, when it is not built.
THV_VERSION := v0.47.0
THV         := $(TOOLS)/thv-$(THV_VERSION)

FUZZ_PKGS ?= ./scan/ ./policy/guard/ ./shim/
# A count, not a duration: a duration-based -fuzztime races Go 1.26's fuzz
# coordinator at the deadline and fails with "context deadline exceeded"
# on a busy machine without any failing input (go.dev/issue/75804, fixed
# in Go 1.27). 50000 executions take a few seconds per target here.
FUZZTIME ?= 50000x

# Stamped into the binary; empty outside a git checkout, and the binary then
# falls back to its module build info.
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT  := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
DATE    := $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS := -s -w -X $(CLI_PKG).version=$(VERSION) -X $(CLI_PKG).commit=$(COMMIT) -X $(CLI_PKG).date=$(DATE)

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.PHONY: help build test e2e-deps bench-peers deploy-deps idp-deps keyring-deps scale-deps fuzz-smoke bench bench-compare bench-report lint docs docs-check snapshot clean otelcol eval eval-tuning eval-overfire thv

help: ## list the targets
	@echo "usage: make TARGET"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/mcpgov with version, commit and date stamped in
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) ./cmd/mcpgov

test: e2e-deps deploy-deps idp-deps scale-deps ## everything CI runs: lint, go test -race with the real clients and IdP, docs-check, release-test, fuzz-smoke
	@$(MAKE) --no-print-directory lint
	PATH="$(E2E_PATH)" MCPGOV_E2E=1 MCPGOV_DEX=$(DEX) MCPGOV_K8S_SCHEMAS=$(K8S_SCHEMAS) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@$(MAKE) --no-print-directory docs-check
	@$(MAKE) --no-print-directory release-test
	@$(MAKE) --no-print-directory fuzz-smoke

e2e-deps: $(NPM_STAMP) $(OTELCOL) $(DUCKDB_QUERY) $(VERSITYGW) $(KUBECONFORM) $(K8S_SCHEMAS_STAMP) $(OIDCP_CC) ## install the real clients, servers, collector, S3 server and kubeconform the end-to-end tests use into .cache/

$(VERSITYGW):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

$(KUBECONFORM):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

$(K8S_SCHEMAS_STAMP): testdata/tools/k8sschema/main.go
	rm -rf $(K8S_SCHEMAS)
	spec=$$(cd $${TMPDIR:-/tmp} && GOWORK=off $(GO) mod download -json k8s.io/kubernetes@$(K8S_SCHEMA_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
		test -n "$$spec" && $(GO) run ./testdata/tools/k8sschema "$$spec/api/openapi-spec/v3" $(K8S_SCHEMAS)
	touch $@

# The systemd units in shim/gateway/deploy are checked with
# systemd-analyze verify; installed the way keyring-deps installs
# gnome-keyring, or named for you to install.
deploy-deps: ## install systemd-analyze (to check the systemd units) when missing
	@if ! command -v systemd-analyze >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null || \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null; }; \
		else \
			echo "deploy-deps: systemd-analyze is missing; run: sudo apt-get install systemd" >&2; exit 1; \
		fi; \
	fi

$(DUCKDB_STAMP):
	@mkdir -p $(DUCKDB_DIR)
	cd $(DUCKDB_DIR) && { test -f package.json || echo '{"private": true}' > package.json; } && \
		npm install --no-audit --no-fund --loglevel=error --save-exact @duckdb/node-api@$(DUCKDB_NODE_VERSION)
	touch $@

$(OIDCP_STAMP):
	@mkdir -p $(OIDCP_DIR)
	cd $(OIDCP_DIR) && { test -f package.json || echo '{"private": true}' > package.json; } && \
		npm install --no-audit --no-fund --loglevel=error --save-exact oidc-provider@$(OIDCP_VERSION)
	touch $@

$(OIDCP_CC): $(OIDCP_STAMP) testdata/idp/oidc-provider-cc.mjs
	@mkdir -p $(dir $@)
	install -m 0755 testdata/idp/oidc-provider-cc.mjs $@

$(DUCKDB_QUERY): $(DUCKDB_STAMP) testdata/e2e/duckdb-query.cjs
	@mkdir -p $(dir $@)
	install -m 0755 testdata/e2e/duckdb-query.cjs $@

otelcol: $(OTELCOL) ## build the OpenTelemetry Collector (OTLP receiver, file exporter) the audit tests ship to

# The builder's own `go mod tidy` fails: it also resolves the contrib file
# exporter's test-only imports, one of which the module proxy does not serve.
# The generated module is complete, so it is tidied with -e and built here.
$(OTELCOL): testdata/otelcol/builder-config.yaml
	@mkdir -p $(OTELCOL_DIR)/bin $(dir $(OTELCOL_BUILDER))
	test -x $(OTELCOL_BUILDER) || GOBIN=$(dir $(OTELCOL_BUILDER)) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OTELCOL_BUILDER_VERSION)
	rm -rf $(OTELCOL_DIR)/dist
	cd $(OTELCOL_DIR) && { $(OTELCOL_BUILDER) --config=$(CURDIR)/testdata/otelcol/builder-config.yaml --skip-compilation > builder.log 2>&1 || true; }
	@test -f $(OTELCOL_DIR)/dist/go.mod -a -f $(OTELCOL_DIR)/dist/components.go || { cat $(OTELCOL_DIR)/builder.log; exit 1; }
	cd $(OTELCOL_DIR)/dist && $(GO) mod tidy -e && $(GO) build -trimpath -ldflags='-s -w' -o $@ .

$(NPM_STAMP): testdata/e2e/package.json testdata/e2e/package-lock.json
	@mkdir -p $(NPM_DIR)
	cp testdata/e2e/package.json testdata/e2e/package-lock.json $(NPM_DIR)/
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench-peers: $(NPM_PEERS_STAMP) ## install npm supergateway and mcp-proxy (the bridges BenchmarkBridgeRounds compares the gateway with) into .cache/npm-peers

$(NPM_PEERS_STAMP): testdata/bench/peers/package.json testdata/bench/peers/package-lock.json
	@mkdir -p $(NPM_PEERS_DIR)
	cp testdata/bench/peers/package.json testdata/bench/peers/package-lock.json $(NPM_PEERS_DIR)/
	cd $(NPM_PEERS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

idp-deps: $(DEX) keyring-deps ## build Dex (the loopback IdP of the login tests) and install gnome-keyring

$(DEX): testdata/tools/dex/go.mod testdata/tools/dex/go.sum
	@mkdir -p $(TOOLS)
	cd testdata/tools/dex && CGO_ENABLED=1 $(GO) build -o $@.tmp github.com/dexidp/dex/cmd/dex
	mv $@.tmp $@

thv: $(THV) ## build ToolHive's thv (the peer gateway of the gateway benchmark, `thv vmcp serve`) into .cache/bin

$(THV): testdata/tools/thv/go.mod testdata/tools/thv/go.sum
	@mkdir -p $(TOOLS)
	cd testdata/tools/thv && $(GO) build -trimpath -o $@.tmp github.com/stacklok/toolhive/cmd/thv
	mv $@.tmp $@

# The keyring test runs a real Secret Service (gnome-keyring under
# dbus-run-session, with its own HOME). Installing it needs root; elsewhere
# install it yourself (apt-get install gnome-keyring).
keyring-deps: ## install gnome-keyring (Secret Service for the keyring test) when missing
	@if ! command -v gnome-keyring-daemon >/dev/null || ! command -v dbus-run-session >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnome-keyring dbus-daemon >/dev/null || \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnome-keyring dbus-daemon >/dev/null; }; \
		else \
			echo "keyring-deps: gnome-keyring-daemon or dbus-run-session is missing; run: sudo apt-get install gnome-keyring dbus-daemon" >&2; exit 1; \
		fi; \
	fi

# The gateway's scale tests run a real Redis (the replicas' shared state
# store) and nginx (the load balancer in front of three replicas), both
# from Debian's packages, installed the way keyring-deps installs
# gnome-keyring (root, else sudo, and apt-get).
scale-deps: ## install redis-server and nginx (the gateway's shared store and load balancer in the scale tests) when missing
	@if ! command -v redis-server >/dev/null && ! command -v valkey-server >/dev/null || ! command -v nginx >/dev/null && ! test -x /usr/sbin/nginx; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		if command -v apt-get >/dev/null && { [ -z "$$sudo" ] || command -v sudo >/dev/null; }; then \
			$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server nginx >/dev/null || \
			{ $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server nginx >/dev/null; }; \
		else \
			echo "scale-deps: redis-server or nginx is missing; run: sudo apt-get install redis-server nginx" >&2; exit 1; \
		fi; \
	fi

fuzz-smoke: ## run each fuzz target in scan/, policy/guard/ and shim/ for 50000 executions (FUZZTIME=…)
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
BENCH_PAIRS := GatewayStore/redis-serial:GatewayStore/embedded-serial GatewayStore/redis-parallel:GatewayStore/embedded-parallel GatewayStore/redis-serial:GatewayStore/none-serial GatewayStore/redis-parallel:GatewayStore/none-parallel ShimIdentityFresh:ReadSessionFile ShipS3:ParquetLocal LoginRefresh:LoginTokenFresh ScanFleetHome:ReadFilesOnly ShimEcho:DirectEcho ShimEchoEverything:DirectEchoEverything ShimStartup:DirectStartup RelayHop:PipeHop RelayHopRecorded:RelayHop AuditAppend:AuditRawFsync Pipeline:DecodeOnly PipelineRego:Pipeline RegoDecision:DecodeOnly RegoDecisionCached:RegoDecision ShimEchoGuarded:ShimEcho \
	$(foreach v,approved-write approved-fsync guarded-write guarded-fsync,EchoRounds/$(v)@shim-p50-µs:EchoRounds/$(v)@direct-p50-µs EchoRounds/$(v)@shim-p99-µs:EchoRounds/$(v)@direct-p99-µs) \
	$(foreach v,approved-fsync guarded-fsync,EchoRounds/$(v)@added-p50-µs:EchoRounds/$(v)@fsync-p50-µs) \
	$(foreach v,approved guarded,StartupRounds/$(v)@shim-p50-ms:StartupRounds/$(v)@direct-p50-ms) \
	$(foreach r,serial rate200 rate1000,$(foreach v,guarded governed vmcp,$(foreach q,p50 p99,GatewayRounds/$(r)@$(v)-$(q)-µs:GatewayRounds/$(r)@direct-$(q)-µs))) \
	AuditAppendWrite:AuditAppend AuditLoneWrite:AuditLoneFsync AuditLoneFsync:AuditRawLoneFsync \
	$(foreach v,supergateway mcp-proxy,BridgeRounds/serial@$(v)-p50-µs:BridgeRounds/serial@gateway-p50-µs BridgeRounds/saturation@$(v)-calls/cpu-s:BridgeRounds/saturation@gateway-calls/cpu-s) \
	GatewayRounds/saturation@governed-calls/cpu-s:BridgeRounds/saturation@gateway-calls/cpu-s GatewayRounds/saturation@vmcp-calls/cpu-s:GatewayRounds/saturation@governed-calls/cpu-s \
	$(foreach q,calls/cpu-s allocs/call B/call,GatewayRounds/saturation@governed-$(q):GatewayRounds/saturation@governed-base-$(q)) \
	$(foreach q,p50 p99,GatewayRounds/rate1000@governed-$(q)-µs:GatewayRounds/rate1000@governed-base-$(q)-µs)
BENCH_COUNT ?= 3

bench: ## run the Go benchmarks and report ratios against baselines measured in the same run
	@mkdir -p $(CACHE)
	PATH="$(E2E_PATH)" MCPGOV_DEX=$(wildcard $(DEX)) MCPGOV_THV=$(wildcard $(THV)) $(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./... | tee $(CACHE)/bench.txt
	@awk -v PAIRS="$(BENCH_PAIRS)" -f .ci/bench-ratios.awk $(CACHE)/bench.txt

# bench-compare measures this tree's relay hop and shim start-up against
# another revision's build in the same run (default: the commit before).
BASE ?= HEAD~1
bench-compare: e2e-deps ## compare the shim hop and start-up with revision BASE's build in one run (make bench-compare BASE=rev)
	PATH="$(E2E_PATH)" GO=$(GO) .ci/bench-compare.sh $(BASE)

# The report is generated straight into testdata/bench (BENCHMARKS.md with
# bench.csv, machine.csv and bench.txt) and committed from there: the
# top-level files are fixed. The benchmarks run once, one package at a time.
BENCH_REPORT_DIR ?= testdata/bench

bench-report: ## run the published benchmarks once (make e2e-deps first for server-everything) ; writes testdata/bench/BENCHMARKS.md and its CSVs
	PATH="$(E2E_PATH)" MCPGOV_THV=$(wildcard $(THV)) MCPGOV_BENCH_PEERS=$(NPM_PEERS_DIR)/node_modules/.bin GO=$(GO) .ci/bench-report.sh $(BENCH_REPORT_DIR)

# The external set is read from ../shared beside the clone (MCPGOV_SHARED to
# point elsewhere); without it the external eval is skipped with a message.
# Each set is scored in a tuning and a held-out half split by hashing case
# ids; only the tuning half's misses are ever printed (MCPGOV_EVAL_MISSES=FILE).
eval: $(GITLEAKS) ## precision and recall per guardrail and per class, tuning and held-out halves, on testdata/guardrails and the shared public and external sets; gitleaks on the same secrets cases
	MCPGOV_EVAL_QUIET=1 MCPGOV_GITLEAKS=$(GITLEAKS) $(GO) test -count=1 -run '^TestEval$$' -v ./policy/guard/ | grep -v -e '^=== RUN' -e '^--- ' -e '^PASS' -e '^ok '

# eval-tuning is the round of tuning: the tuning half alone (the held-out
# half is neither scored nor printed), its misses written to
# .cache/eval-misses.txt. Measure the held-out half with `make eval` once,
# at the end of a round.
eval-tuning: $(GITLEAKS) ## the tuning half alone, its misses in .cache/eval-misses.txt (the held-out half is not scored)
	rm -f $(CACHE)/eval-misses.txt
	MCPGOV_EVAL_HALF=tuning MCPGOV_EVAL_MISSES=$(abspath $(CACHE))/eval-misses.txt MCPGOV_EVAL_QUIET=1 MCPGOV_GITLEAKS=$(GITLEAKS) $(GO) test -count=1 -run '^TestEval$$' -v ./policy/guard/ | grep -v -e '^=== RUN' -e '^--- ' -e '^PASS' -e '^ok '

# eval-overfire hands real files nobody labelled (the npm packages of
# e2e-deps and the Go module cache) to the post-tool guardrails as tool
# results and counts the flagged files per guardrail; the flagged paths go
# to .cache/overfire.txt. Compare the counts between builds.
eval-overfire: ## the over-firing check: 40,000 real files from node_modules and the Go module cache as tool results, flagged files per guardrail (paths in .cache/overfire.txt)
	MCPGOV_OVERFIRE_DIRS=$(CACHE)/npm/node_modules:$$($(GO) env GOMODCACHE) MCPGOV_OVERFIRE_LIST=$(abspath $(CACHE))/overfire.txt $(GO) test -count=1 -timeout 30m -run '^TestOverFiring$$' -v ./policy/guard/ | grep -v -e '^=== RUN' -e '^--- ' -e '^PASS' -e '^ok '

lint: $(STATICCHECK) ## gofmt (must list nothing), go vet, staticcheck, and a Windows and macOS build of every package
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.cache/*' -not -path './dist/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	STATICCHECK_CACHE=$(CACHE)/staticcheck $(STATICCHECK) ./...
	GOOS=windows GOARCH=amd64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...

docs: ## regenerate the command reference in README.md
	$(GO) run ./cmd/gen-docs --readme README.md

docs-check: ## fail if the command reference in README.md is out of date
	$(GO) run ./cmd/gen-docs --readme README.md --check

snapshot: $(GORELEASER) $(SYFT) ## local release build into dist/ (publishes nothing): archives, SBOMs, deb, rpm, Homebrew cask, checksums
	$(GORELEASER) check
	@# goreleaser reads no commit, date or tag in a clone without a remote (it
	@# asks git for the remote's URL first); git's environment lends it one.
	if [ -z "$$(git remote)" ]; then export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/mcpgov/mcpgov.git; fi; \
	PATH="$(dir $(SYFT)):$$PATH" $(GORELEASER) release --snapshot --clean

# What `make test` runs of the release: the snapshot, then a test of dist/
# (archive contents, checksums, SBOMs, dpkg-deb and rpm reading the packages,
# the cask, the stamped binary, and install.sh installing from dist/ over
# loopback and refusing a tampered archive). -race like `make test`, so the
# test binary's packages come from the build cache.
.PHONY: release-test release-deps
release-test: release-deps snapshot ## make snapshot, then test what it wrote to dist/ and install.sh against it
	MCPGOV_DIST=$(CURDIR)/dist MCPGOV_E2E=1 $(GO) test -race -count=1 -run '^TestRelease$$' ./cmd/mcpgov/

# dpkg-deb ships with Debian; rpm is installed the way keyring-deps installs
# gnome-keyring (root and apt-get), or named for you to install.
release-deps: ## install rpm (to read the .rpm packages) when missing
	@if ! command -v rpm >/dev/null || ! command -v dpkg-deb >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rpm dpkg >/dev/null || \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rpm dpkg >/dev/null; }; \
		else \
			echo "release-deps: rpm or dpkg-deb is missing; run: sudo apt-get install rpm dpkg" >&2; exit 1; \
		fi; \
	fi

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

$(GITLEAKS):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/zricethezav/gitleaks/v8@$(GITLEAKS_VERSION)
	mv $(TOOLS)/gitleaks $@

$(SYFT):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/anchore/syft/cmd/syft@$(SYFT_VERSION)
