# posagent — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN         := bin/posagent
STATICCHECK := $(CURDIR)/bin/staticcheck
STATICCHECK_VERSION := v0.8.2
FUZZTIME    ?= 10m
FUZZ_CI_TIME ?= 5s
BENCHTIME   ?= 1s

# Debian packages the build and tests need: the C toolchain and the GL/X11
# headers fyne links against (toolchain.md lists the measured minimal set).
APT_PACKAGES := gcc libc6-dev pkg-config libgl-dev libx11-dev libxcursor-dev libxrandr-dev \
                libxinerama-dev libxi-dev libxxf86vm-dev curl

.PHONY: help
help: ## show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: demo
demo: apt-deps ## run the product: simulated reader + embedded sandbox gateway; open the printed URL (and the window, on a desktop)
	@$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/posagent 2>/dev/null || { \
		echo "note: no GL/X11 headers (run make deps as root for them): building without the cashier window"; \
		$(GO) build -tags headless -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/posagent; }
	$(BIN) demo

.PHONY: build
build: ## build bin/posagent
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/posagent

.PHONY: apt-deps
apt-deps: ## install the Debian packages the build needs (only when root)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "apt-get install: $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		fi; \
	else echo "not root: skipping apt-get (the full build needs: $(APT_PACKAGES))"; fi

.PHONY: deps
deps: apt-deps ## install what the build and tests need (apt-get when root, Go modules, staticcheck)
	$(GO) mod download
	@[ -x $(STATICCHECK) ] || GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: lint
lint: deps ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags headless ./...
	$(STATICCHECK) ./...

.PHONY: test
test: deps lint ## the whole test suite: installs what it needs, lints, runs every test (race detector on)
	$(GO) test -race -count=1 -tags headless ./...
	$(GO) test -count=1 ./internal/ui/... ./cmd/...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_CI_TIME)
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory test-ui
	$(MAKE) --no-print-directory chaos CHAOS_N=200
	@echo "make test: all passed"

# The cashier window under Xvfb on a real `posagent demo`: keypad 1 2, Sale,
# "Visa swipe" (coordinates of the 1024x600 layout), then the agent's log
# must show the approved sale. Screenshot: artifacts/ui/smoke.png.
UI_PORT ?= 7398
.PHONY: test-ui
test-ui: build ## the cashier window in a real X server (Xvfb): a simulated sale through the UI
	@state=$$(mktemp -d); \
	SMOKE_SETTLE=3 SMOKE_CLICKS="66,221 184,221 95,341 461,456" SMOKE_EXPECT='"outcome":"approved"' \
	test/ui/smoke.sh $(BIN) demo --listen 127.0.0.1:$(UI_PORT) --state-dir $$state

BROWSER_PORT ?= 7399
.PHONY: test-browser
test-browser: build ## the demo page in headless Chromium against a real `posagent demo --headless`
	@state=$$(mktemp -d); \
	$(BIN) demo --headless --listen 127.0.0.1:$(BROWSER_PORT) --state-dir $$state > $$state/demo.log 2>&1 & pid=$$!; \
	trap "kill $$pid 2>/dev/null; wait $$pid 2>/dev/null" EXIT; \
	for i in $$(seq 50); do curl -fs http://127.0.0.1:$(BROWSER_PORT)/healthz >/dev/null && break; sleep 0.1; done; \
	BASE_URL=http://127.0.0.1:$(BROWSER_PORT)/ test/browser/run.sh

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 10m; corpus kept in testdata/fuzz)
	@set -e; for pkg in $$($(GO) list ./...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for f in $$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' $$dir/*_test.go 2>/dev/null | awk '{print $$2}'); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -tags headless -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -parallel 1 $$pkg; \
		done; \
	done

CHAOS_N ?= 2000
.PHONY: chaos
chaos: build ## CHAOS_N sales (default 2000) through the real binary with random gateway faults, client drops and SIGKILLs; reconciles
	$(GO) run ./test/chaos -n $(CHAOS_N) -bin $(BIN)

LEAK_PORT ?= 7397
.PHONY: leakscan
leakscan: build ## scan a debug-level run (demo driven by the browser e2e, the whole test suite) for card data
	@set -e; dir=$$(mktemp -d); echo "leakscan: working in $$dir"; \
	$(BIN) demo --headless --log-level debug --listen 127.0.0.1:$(LEAK_PORT) --state-dir $$dir/state > $$dir/demo.log 2>&1 & pid=$$!; \
	for i in $$(seq 50); do curl -fs http://127.0.0.1:$(LEAK_PORT)/healthz >/dev/null && break; sleep 0.1; done; \
	BASE_URL=http://127.0.0.1:$(LEAK_PORT)/ test/browser/run.sh > $$dir/browser.log 2>&1 || { kill $$pid; cat $$dir/browser.log; exit 1; }; \
	kill $$pid; wait $$pid 2>/dev/null || true; \
	POSAGENT_LOG_LEVEL=debug $(GO) test -tags headless -count=1 -v ./... > $$dir/tests.log 2>&1 || { tail -30 $$dir/tests.log; exit 1; }; \
	$(GO) run ./cmd/leakscan $$dir/demo.log $$dir/state/journal.db $$dir/browser.log $$dir/tests.log

.PHONY: bench
bench: ## run the Go benchmarks (allocations reported)
	$(GO) test -tags headless -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

.PHONY: clean
clean: ## remove build output
	rm -rf bin dist artifacts
