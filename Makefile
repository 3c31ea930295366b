# elbattach — build, test, demo, bench, deploy.
# A fresh machine needs only: make demo, make test (see README.md).

SHELL      := /bin/bash
# Every recipe line fails on the first failing command, a pipeline's included.
.SHELLFLAGS := -e -o pipefail -c
# moto_server, cfn-lint and python3 with PyYAML come with the machine image's pyenv (Python 3.11): its shims go
# first on the PATH of the targets that use them, whatever the caller's shell has (not of deploy: the caller's own
# AWS CLI stays first there).
PYENV_ROOT ?= $(HOME)/.pyenv
deps lint unit test demo bench: export PATH := $(PYENV_ROOT)/shims:$(PYENV_ROOT)/bin:$(PATH)
# Go 1.26.10 fixes standard-library vulnerabilities that govulncheck finds reachable with 1.26.8 (the machine's Go);
# the toolchain comes from the Go module proxy like any module.
export GOTOOLCHAIN := go1.26.10
GO         ?= go
FUNCTIONS  := instance-state tag-change lifecycle reconcile
BUILD      := build
ARCH       ?= arm64
LDFLAGS    := -s -w
GOFLAGS_FN := -tags lambda.norpc -trimpath -ldflags='$(LDFLAGS)'
STACK      ?= elbattach

.PHONY: all build build-local test unit e2e lint demo bench deploy deploy-sample vulncheck deps clean

all: build

## deps: check the tools the tests and the demo need (Go modules are fetched by go itself).
deps:
	@command -v $(GO) >/dev/null || { echo "Go is required"; exit 1; }
	@infra/scripts/deps.sh

## build: a bootstrap per function for Lambda (provided.al2023, $(ARCH)), in build/<function>/bootstrap.
build:
	@for f in $(FUNCTIONS); do \
	  echo "build $(BUILD)/$$f/bootstrap ($(ARCH))"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build $(GOFLAGS_FN) -o $(BUILD)/$$f/bootstrap ./functions/$$f || exit 1; \
	done

## build-local: the same for this machine's architecture (what the tests run under the RIE).
build-local:
	@$(MAKE) --no-print-directory build ARCH=$$($(GO) env GOARCH) BUILD=$(BUILD)/local

## lint: gofmt, go vet, cfn-lint and the template's own checks.
lint: deps
	@files=$$(for f in $$(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './build/*'); do \
	    if [ -f "$$f" ]; then echo "$$f"; fi; done); \
	  [ -n "$$files" ] || { echo "no Go files found"; exit 1; }; \
	  out=$$(gofmt -l $$files); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	infra/template_test.sh
	infra/deploy_test.sh

## unit: the Go tests that need no local AWS.
unit:
	$(GO) test ./shared/... ./functions/...

## test: lint, the core's tests under the race detector (its reads run concurrently), then every Go test
## (unit, and end to end: moto + real bootstrap under the RIE).
test: lint build-local
	$(GO) test -race -count=1 ./shared/...
	BOOTSTRAP_DIR=$(CURDIR)/$(BUILD)/local $(GO) test -count=1 -timeout 15m ./...

## demo: start a local AWS, attach a private instance to an ALB through the real function, show the result.
demo: deps
	$(GO) run ./infra/demo

## bench: Go benchmarks (AWS calls per event, latency), written to $(BUILD)/bench.md.
bench: deps build-local
	@$(MAKE) --no-print-directory build
	@mkdir -p $(BUILD) && rm -f $(BUILD)/bench.json $(BUILD)/bench.md
	@set -o pipefail; start=$$(date +%s); run() { \
	  echo "go test -run '^$$' -bench '$$1' -benchtime=$$2 -benchmem ./infra/bench/"; \
	  BOOTSTRAP_DIR=$(CURDIR)/$(BUILD)/local BENCH_MERGE=$$3 CGO_ENABLED=0 \
	    $(GO) test -trimpath -tags lambda.norpc -count 1 -run '^$$' -bench "$$1" -benchtime=$$2 -benchmem ./infra/bench/; }; \
	  rc=0; { run Scenario 60x 0 && run 'NewAZ|ColdStart|TLSRoots|RoundTrips' 60x 1 && run PeakRSS 12x 1 && run Burst 1x 1; } 2>&1 | tee $(BUILD)/bench.txt || rc=$$?; \
	  echo "make bench: $$(( $$(date +%s) - start )) s, exit $$rc; report: $(BUILD)/bench.md"; exit $$rc

## deploy: build for arm64 and deploy template.yaml (SAM CLI when present, else awscli with S3_BUCKET).
## Parameters from the environment: TAG_KEY, ALLOWED_TARGETS, PUBLIC_SUBNET_PREFIX, NLB_CLIENT_CIDRS, DRY_RUN, ...
deploy: build
	STACK=$(STACK) BUILD_DIR=$(BUILD) infra/scripts/deploy.sh

## deploy-sample: the sample stack (VPC, ALB, NLB, NAT, Auto Scaling group with hooks) to try elbattach in a sandbox.
deploy-sample:
	STACK=$(STACK) infra/scripts/deploy.sh sample

## vulncheck: govulncheck ./... against the Go vulnerability database, fetched as a Go module (no other network).
vulncheck:
	infra/scripts/vulncheck.sh

clean:
	rm -rf $(BUILD)
