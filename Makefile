# winship — see README.md.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build run test test-short node-deps vet fmt bench fuzz stress clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/winship ./cmd/winship

# Runs the agent on config.example.yaml: ./logs/*.log → ./out/events.jsonl.
run: build
	mkdir -p logs out
	bin/winship run -c config.example.yaml

# The whole suite, as CI runs it: vet, formatting, race-enabled tests (including the
# tests that drive real Winston and @sentry/core through node), short fuzz and stress runs.
test: node-deps vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) test -race -count=1 -timeout 15m ./...
	$(GO) test -run='^$$' -bench=. -benchtime=1x -short -count=1 ./...

test-short:
	$(GO) test -short -count=1 ./...

# Node producers and references for the tests (winston, winston-daily-rotate-file,
# @sentry/core), pinned by package-lock.json.
node-deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Speed and memory targets live here, not in timed tests: the Go benchmarks, then the
# real binary on a million Winston lines (lines/s, CPU per line, peak RSS).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./...
	scripts/bench-e2e.sh 1000000

# Minutes of fuzzing per fuzz target (make test runs only the seed corpora).
FUZZTIME ?= 2m
FUZZPKGS ?= ./parsers ./sinks/sentry ./sinks/http ./sinks/betterstack
fuzz:
	@for p in $(FUZZPKGS); do \
		for f in $$($(GO) test -list='^Fuzz' $$p | grep ^Fuzz); do \
			echo "== $$p $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$p || exit 1; \
		done; \
	done

# Long chaos runs: many kill -9 cycles, big backlogs.
stress: node-deps
	WINSHIP_STRESS=1 $(GO) test -race -count=1 -timeout 60m -run 'Stress|Chaos|Kill' ./...

clean:
	rm -rf bin out .winship
