# edgeplay — see README.md. `make run` to play, `make test` to test.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
ADDR ?= :8080
FUZZTIME ?= 20s
BENCHTIME ?= 1x
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

.PHONY: run build examples test race bench fuzz lint deps clean

## run: install what is missing, build, and start everything on http://localhost:8080
run: build
	./bin/edgeplay up --addr $(ADDR)

## build: the two binaries in ./bin
build:
	@scripts/deps.sh build
	$(GO) build -o bin/edgeplay ./cmd/edgeplay
	$(GO) build -o bin/edgectl ./cmd/edgectl

## examples: the example games (docs/SDK.md), one executable each in ./bin/examples: every
## examples/c/NAME (C99, with the C SDK in sdk/c) and every examples/go/NAME (Go, with gamesdk)
CFLAGS ?= -std=c99 -O2 -Wall -Wextra -Wpedantic
examples:
	@scripts/deps.sh build
	@mkdir -p bin/examples
	@set -e; for d in examples/c/*/; do [ -d "$$d" ] || continue; n=$$(basename $$d); \
		echo "cc  bin/examples/$$n"; \
		$(CC) $(CFLAGS) -I sdk/c -o bin/examples/$$n $$d*.c sdk/c/edgeplay.c -lm; done
	@set -e; for d in examples/go/*/; do [ -d "$$d" ] || continue; n=$$(basename $$d); \
		echo "go  bin/examples/$$n"; $(GO) build -o bin/examples/$$n ./$$d; done
	@echo "go  bin/examples/studio"; $(GO) build -o bin/examples/studio ./examples/studio

## test: every test, with the race detector, including the end-to-end tests (Go, headless chromium and Firefox ESR, and the network lab). The end-to-end package runs on its own, after the others: its frame-rate checks need the CPUs.
test:
	@scripts/deps.sh test
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v /internal/e2e$$)
	$(GO) test -race -count=1 -timeout 15m ./internal/e2e/
	node --test web/

## race: alias of test (tests always run with -race)
race: test

## bench: Go benchmarks and the edgebench measurements (see docs/BENCHMARKS.md)
bench: build examples
	@scripts/deps.sh bench
	$(GO) test -run '^$$' -bench . -benchtime 2s ./input/ ./game/... ./encoder/ ./gameproc/ ./jointoken/ ./studio/
	$(GO) run ./cmd/edgebench studio -records 1000000 -webhooks 10000
	$(GO) run ./cmd/edgebench games -demo-cmd "bin/edgeplay demo-game" -c-cmd bin/examples/paddle
	$(GO) run ./cmd/edgebench density -audio=false -game-cmd "bin/edgeplay demo-game"
	$(GO) run ./cmd/edgebench encoder
	$(GO) run ./cmd/edgebench latency
	$(GO) run ./cmd/edgebench density
	$(GO) run ./cmd/edgebench placement -hosts 10000
	$(GO) run ./cmd/edgebench heartbeats -hosts 10000
	$(GO) run ./cmd/edgebench memory -hosts 10000 -tickets 1000
	$(GO) test -count=1 -run TestBrowserPlay -v ./internal/e2e/ | grep -E 'click-to-photon|^(ok|FAIL|---)'
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkPlayFirstFrame$$' -benchtime 1x ./internal/e2e/
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkAudioPath$$' -benchtime 1x ./internal/e2e/
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkUnconnectedReservation$$' -benchtime 1x ./internal/e2e/
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkLabResume$$' -benchtime 1x ./internal/e2e/
	$(GO) run ./cmd/edgebench density -audio=false
	$(GO) run ./cmd/edgebench turn -runs 3
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkLab(Edgeplay|Reference)$$' -benchtime 1x -timeout 180m ./internal/e2e/

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@scripts/deps.sh build
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./input/
	$(GO) test -run '^$$' -fuzz '^FuzzParseClient$$' -fuzztime $(FUZZTIME) ./protocol/
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./game/marker/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./probe/
	$(GO) test -run '^$$' -fuzz '^FuzzParseHeartbeat$$' -fuzztime $(FUZZTIME) ./matchmaker/
	$(GO) test -run '^$$' -fuzz '^FuzzParseEventsQuery$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./gameproto/
	$(GO) test -run '^$$' -fuzz '^FuzzHandle$$' -fuzztime $(FUZZTIME) ./gameproc/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./jointoken/
	$(GO) test -run '^$$' -fuzz '^FuzzParseAPIKey$$' -fuzztime $(FUZZTIME) ./studio/
	$(GO) test -run '^$$' -fuzz '^FuzzStudioTokens$$' -fuzztime $(FUZZTIME) ./server/

## lint: golangci-lint v2 (installed from the Go module proxy on first use)
lint:
	$(GO) run $(GOLANGCI_LINT) run --allow-parallel-runners ./...

clean:
	rm -rf bin
