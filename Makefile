# posagent — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO          ?= go
# The agent's semantic version (docs/protocol.md#versions): RELEASE on its
# tag v$(RELEASE), else $(RELEASE)-dev+<commit> (.dirty with local changes).
RELEASE     := $(shell sed -n 's/^const release = "\(.*\)"/\1/p' cmd/posagent/version.go)
COMMIT      ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION     ?= $(shell if [ "$$(git describe --tags --exact-match 2>/dev/null)" = "v$(RELEASE)" ] && git diff --quiet HEAD 2>/dev/null; \
                 then echo $(RELEASE); else echo "$(RELEASE)-dev+$(COMMIT)$$(git diff --quiet HEAD 2>/dev/null || echo .dirty)"; fi)
LDFLAGS     := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN         := bin/posagent
# no_emoji leaves fyne's 4 MB colour-emoji font out of the window build (the
# window shows no emoji): 19 MB less memory at the counter (docs/performance.md).
GUI_TAGS    := no_emoji
STATICCHECK := $(CURDIR)/bin/staticcheck
STATICCHECK_VERSION := v0.8.2
FUZZTIME    ?= 10m
FUZZ_CI_TIME ?= 5s
BENCHTIME   ?= 1s

# Debian packages the build and tests need: the C toolchain and the GL/X11
# headers fyne links against (toolchain.md lists the measured minimal set).
APT_PACKAGES := gcc libc6-dev pkg-config libgl-dev libx11-dev libxcursor-dev libxrandr-dev \
                libxinerama-dev libxi-dev libxxf86vm-dev curl
# And the ones the tests need: an X server and its tools for the window's
# tests (test/bench measures the window during `go test`, test/ui drives it),
# a D-Bus daemon for the tray test, glxinfo to name the GL renderer the bench
# measured the window on; node and npm for the browser tests and the npm
# package's type check (make deps installs TypeScript in test/npm).
# Debian's nodejs and npm only where no node is installed: a NodeSource nodejs
# (as on this project's machines) carries its own npm and conflicts with
# Debian's, and apt-get refuses the pair ("held broken packages").
TEST_APT_PACKAGES := xvfb xauth x11-utils imagemagick xdotool dbus-daemon mesa-utils $(if $(shell command -v npm),,nodejs npm)

# apt_install installs the Debian packages in $(1) that are missing, as root
# only (a developer's own machine is theirs to change).
define apt_install
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "apt-get install: $$missing (a minute or two on a fresh machine)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		fi; \
	else echo "not root: skipping apt-get (needed: $(1))"; fi
endef

.PHONY: help
help: ## show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: demo
demo: apt-deps ## run the product: simulated reader + embedded sandbox gateway; open the printed URL (and the window, on a desktop); DEMO_FLAGS="--allow-origin URL" admits your page
	@echo "make demo: building $(BIN) $(VERSION) with the cashier window. The first build on a machine downloads"; \
	echo "  the Go modules and compiles the OpenGL bindings: about 3-5 minutes (later builds take seconds)."; \
	start=$$(date +%s); ( while sleep 30; do echo "  still building ($$(( $$(date +%s) - start )) s)..."; done ) & ticker=$$!; \
	trap "kill $$ticker 2>/dev/null" EXIT; \
	if ! $(GO) build -tags "$(GUI_TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/posagent 2>$(BIN).build.log; then \
		echo "make demo: no cashier window build (no GL/X11 headers? make deps as root installs them; $(BIN).build.log says why):"; \
		echo "  building without the window (about 30 s the first time)"; \
		$(GO) build -tags headless -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/posagent; \
	fi; \
	echo "make demo: built in $$(( $$(date +%s) - start )) s; starting $(BIN) demo (Ctrl-C stops it)"
	$(BIN) demo $(DEMO_FLAGS)

.PHONY: build
build: ## build bin/posagent
	$(GO) build -tags "$(GUI_TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/posagent

.PHONY: apt-deps
apt-deps: ## install the Debian packages the build needs (only when root)
	$(call apt_install,$(APT_PACKAGES))

.PHONY: test-deps
test-deps: ## install the Debian packages the tests and benchmarks need: Xvfb and X tools, dbus-daemon, glxinfo (only when root)
	$(call apt_install,$(TEST_APT_PACKAGES))

.PHONY: deps
deps: apt-deps test-deps ## install what the build and tests need (apt-get when root, Go modules, TypeScript for test/npm, staticcheck)
	$(GO) mod download
	@if command -v npm >/dev/null; then \
		[ -d test/npm/node_modules/typescript ] || (cd test/npm && npm ci --no-audit --no-fund --loglevel=error); \
	else echo "no npm: skipping TypeScript for test/npm (apt-get install npm)"; fi
	@[ -x $(STATICCHECK) ] || GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: lint
lint: deps ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l cmd internal packaging test); if [ -n "$$out" ]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags headless ./...
	$(STATICCHECK) ./...

.PHONY: test
test: deps lint ## the whole test suite: installs what it needs, lints, runs every test (race detector on)
	$(GO) test -race -count=1 -timeout 20m -tags headless ./...
	$(GO) test -count=1 ./internal/ui/... ./cmd/...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_CI_TIME)
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory test-ui
	$(MAKE) --no-print-directory test-package
	$(MAKE) --no-print-directory chaos CHAOS_N=200
	@echo "make test: all passed"

# The cashier window under Xvfb on a real `posagent demo`: keypad 1 2, Sale,
# "Visa swipe" (coordinates of the 1024x600 layout), then the agent's log
# must show the approved sale, and SIGTERM must end it with status 0 (no
# session bus there, so no tray). Screenshot: artifacts/ui/smoke.png. Then
# test/ui/traytest: the tray icon and close button on a real D-Bus session
# bus, with and without a tray host.
UI_PORT ?= 7398
.PHONY: test-ui
test-ui: test-deps build ## the cashier window in a real X server (Xvfb): a simulated sale through the UI; the tray on a real D-Bus session bus
	@state=$$(mktemp -d); \
	SMOKE_SETTLE=3 SMOKE_CLICKS="66,221 184,221 95,341 461,456" SMOKE_EXPECT='"outcome":"approved"' \
	test/ui/smoke.sh $(BIN) demo --listen 127.0.0.1:$(UI_PORT) --state-dir $$state
	$(GO) run ./test/ui/traytest -bin $(BIN)

BROWSER_PORT ?= 7399
.PHONY: test-browser
test-browser: build ## the demo page in headless Chromium against a real `posagent demo --headless`
	@state=$$(mktemp -d); \
	$(BIN) demo --headless --listen 127.0.0.1:$(BROWSER_PORT) --state-dir $$state > $$state/demo.log 2>&1 & pid=$$!; \
	trap "kill $$pid 2>/dev/null; wait $$pid 2>/dev/null" EXIT; \
	for i in $$(seq 50); do curl -fs http://127.0.0.1:$(BROWSER_PORT)/healthz >/dev/null && break; sleep 0.1; done; \
	BASE_URL=http://127.0.0.1:$(BROWSER_PORT)/ test/browser/run.sh

.PHONY: fuzz
# test/fuzz runs each target with go test -fuzz and tells Go 1.26's
# end-of-fuzztime coordinator race (go.dev/issue/75804) from a finding.
fuzz: ## run every fuzz target for FUZZTIME each (default 10m; corpus kept in testdata/fuzz)
	$(GO) run ./test/fuzz -go $(GO) -fuzztime $(FUZZTIME)

CHAOS_N ?= 2000
.PHONY: chaos
chaos: build ## CHAOS_N sales (default 2000) through the real binary with random gateway faults, client drops and SIGKILLs (also during retention and compaction); reconciles
	$(GO) run ./test/chaos -n $(CHAOS_N) -bin $(BIN)

LEAK_PORT ?= 7397
LEAK_CHAOS_N ?= 100
# A fixed seed: the fault plan depends on it alone, and this one draws every gateway fault, drops and kills
# within 100 sales, so the scanned logs always cover restarts and recovery.
LEAK_CHAOS_SEED ?= 20261122
# Everything comes from debug-level runs in one temporary directory:
#   demo.log, state/journal.db        posagent demo, driven by the browser e2e
#   browser.log, browser-ws.capture   the e2e's output; every websocket frame of its pages
#   chaos.log, chaos/agent.log, chaos/state/journal.db, chaos/ws.capture, chaos/gateway-responses.capture
#                                     a chaos run: its report, the agent's log over kills and restarts, the
#                                     journal, every websocket frame, the sandbox's answer to every request
#   tests.log                         the whole Go test suite, verbose
#   planted/agent.log, planted/state/journal.db, planted/replies.capture
#                                     that suite's run of the real agent with card numbers planted in every text
#                                     field of its requests (cmd/leakscan TestPlantedCardNumbersRefusedAndNeverKept):
#                                     its log, journal and every websocket reply
# No -allow-ciphertext: none of these may hold ciphertext. Logs, journals and websocket messages carry
# masked PANs and ids only, and the gateway's answers first six and last four; the one place e_track_data
# belongs, the requests to the gateway, is deliberately not captured. Captures are plain text lines
# (payloads unescaped), and cmd/leakscan refuses a missing or empty file.
.PHONY: leakscan
leakscan: build ## scan debug-level runs (demo driven by the browser e2e, a chaos run, the test suite): logs, journals, websocket and gateway captures
	@set -e; dir=$$(mktemp -d); echo "leakscan: working in $$dir"; \
	$(BIN) demo --headless --log-level debug --listen 127.0.0.1:$(LEAK_PORT) --state-dir $$dir/state > $$dir/demo.log 2>&1 & pid=$$!; \
	for i in $$(seq 50); do curl -fs http://127.0.0.1:$(LEAK_PORT)/healthz >/dev/null && break; sleep 0.1; done; \
	WS_CAPTURE=$$dir/browser-ws.capture BASE_URL=http://127.0.0.1:$(LEAK_PORT)/ test/browser/run.sh > $$dir/browser.log 2>&1 || { kill $$pid; cat $$dir/browser.log; exit 1; }; \
	kill $$pid; wait $$pid 2>/dev/null || true; \
	$(GO) run ./test/chaos -n $(LEAK_CHAOS_N) -seed $(LEAK_CHAOS_SEED) -bin $(BIN) -log-level debug -dir $$dir/chaos -capture > $$dir/chaos.log 2>&1 || { tail -30 $$dir/chaos.log; exit 1; }; \
	POSAGENT_LOG_LEVEL=debug POSAGENT_PLANTED_DIR=$$dir/planted $(GO) test -tags headless -count=1 -v ./... > $$dir/tests.log 2>&1 || { tail -30 $$dir/tests.log; exit 1; }; \
	$(GO) run ./cmd/leakscan $$dir/demo.log $$dir/state/journal.db $$dir/browser.log $$dir/browser-ws.capture \
		$$dir/chaos.log $$dir/chaos/agent.log $$dir/chaos/state/journal.db $$dir/chaos/ws.capture \
		$$dir/chaos/gateway-responses.capture $$dir/tests.log \
		$$dir/planted/agent.log $$dir/planted/state/journal.db $$dir/planted/replies.capture

# make bench: the Go benchmarks and the whole-process harness (test/bench: the
# real bin/posagent driven over its websocket, a serial reader on a pty), each
# BENCH_COUNT times, into BENCH_DIR (go.txt, process.txt, summary.txt, and
# benchstat.txt). BENCH_BASE=DIR compares with a copy of an earlier BENCH_DIR;
# BENCH_QUICK=1 is a quick check (one pass, small samples); BENCH_FLAGS go to
# test/bench (e.g. -strict, -dir /path/on/the/disk/under/test).
BENCHSTAT         := $(CURDIR)/bin/benchstat
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
BENCH_COUNT ?= 6
BENCH_DIR   ?= artifacts/bench
BENCH_BASE  ?=
BENCH_QUICK ?=
BENCH_FLAGS ?=
.PHONY: bench
bench: test-deps build ## Go benchmarks + whole-process benchmarks of bin/posagent, benchstat summary in artifacts/bench (BENCH_BASE=dir compares, BENCH_QUICK=1)
	@[ -x $(BENCHSTAT) ] || GOBIN=$(CURDIR)/bin $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
	@set -eo pipefail; mkdir -p $(BENCH_DIR); \
	if [ -n "$(BENCH_QUICK)" ]; then count=1; benchtime=100ms; quick=-quick; else count=$(BENCH_COUNT); benchtime=$(BENCHTIME); quick=; fi; \
	echo "bench: load average $$(cut -d' ' -f1-3 /proc/loadavg); Go benchmarks, -count $$count -> $(BENCH_DIR)/go.txt"; \
	$(GO) test -tags headless -run '^$$' -bench . -benchmem -benchtime $$benchtime -count $$count ./... | tee $(BENCH_DIR)/go.txt; \
	echo "bench: load average $$(cut -d' ' -f1-3 /proc/loadavg); whole process, -count $$count -> $(BENCH_DIR)/process.txt"; \
	$(GO) run ./test/bench -bin $(BIN) -count $$count $$quick -o $(BENCH_DIR)/process.txt $(BENCH_FLAGS) | tee $(BENCH_DIR)/summary.txt; \
	{ if [ -n "$(BENCH_BASE)" ]; then \
		$(BENCHSTAT) old=$(BENCH_BASE)/go.txt new=$(BENCH_DIR)/go.txt; \
		$(BENCHSTAT) old=$(BENCH_BASE)/process.txt new=$(BENCH_DIR)/process.txt; \
	else \
		$(BENCHSTAT) $(BENCH_DIR)/go.txt; \
		$(BENCHSTAT) $(BENCH_DIR)/process.txt; \
	fi; } | tee $(BENCH_DIR)/benchstat.txt

# Release packages (packaging/package.sh builds them; packaging/*/README.md
# say how to install each). DEB_VERSION is VERSION made into a Debian
# version (it must start with a digit): 1.2.3 -> 1.2.3, 1.2.3-dev+<hash>
# -> 1.2.3~dev+<hash> (sorts before the release). Signing the Windows exe: set SIGN_PKCS12 (path of a
# .p12/.pfx) and SIGN_PASSWORD (+ SIGN_CAFILE to verify a private CA, and
# SIGN_TIMESTAMP for an RFC 3161 server); unset, the exe is left unsigned.
DIST         := dist
DEB_VERSION  ?= $(shell packaging/linux/deb-version.sh 'v$(VERSION)')
NFPM         := $(CURDIR)/bin/nfpm
NFPM_VERSION := v2.45.2
PACKAGE_APT_PACKAGES := gcc-mingw-w64-x86-64-win32 gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
                        systemd udev file osslsigncode openssl dpkg

.PHONY: package-deps
package-deps: apt-deps ## install what make package needs: mingw-w64 and arm64 cross compilers, osslsigncode (apt-get when root), nfpm
	$(call apt_install,$(PACKAGE_APT_PACKAGES))
	@[ -x $(NFPM) ] || GOBIN=$(CURDIR)/bin $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)

.PHONY: package
package: package-deps ## build dist/: the .deb for amd64 (+arm64 where it builds), the Windows .exe, SHA256SUMS
	@GO="$(GO)" VERSION="$(VERSION)" DEB_VERSION="$(DEB_VERSION)" LDFLAGS="$(LDFLAGS)" GUI_TAGS="$(GUI_TAGS)" \
		DIST="$(DIST)" NFPM="$(NFPM)" packaging/package.sh

.PHONY: test-package
test-package: package ## check the packages: contents, systemd-analyze verify, udev rules, PE32+, install into a throwaway root
	POSAGENT_DIST=$(CURDIR)/$(DIST) POSAGENT_VERSION="$(VERSION)" POSAGENT_DEB_VERSION="$(DEB_VERSION)" \
		POSAGENT_GUI_TAGS="$(GUI_TAGS)" $(GO) test -count=1 ./packaging/...

.PHONY: npm
npm: ## build the @posagent/client npm package: dist/posagent-client-<version>.tgz (ES module, types, README, CHANGELOG)
	@packaging/npm/pack.sh "$(VERSION)" $(DIST)

.PHONY: clean
clean: ## remove build output
	rm -rf bin dist artifacts
