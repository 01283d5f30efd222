# arkerfs build, test and benchmark entry points.
GO       ?= go
PKGS     := ./...
BIN      := bin/arkerfs
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# Test binaries need these on the machine; `make deps` installs them.
# autoreconf, automake, gcc, make and prove build and run pjdfstest.
TOOLS    := rsync git vim curl tar sha256sum autoreconf automake gcc make prove

.PHONY: all build test unit integration pjdfstest lint cross deps bench demo fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/arkerfs

## test: everything CI runs: lint, cross-compilation, unit and real-mount
## tests, pjdfstest among them (as root; the source is ../shared/tools/pjdfstest).
test: deps lint cross
	$(GO) test -count=1 -timeout 30m $(PKGS)

unit:
	$(GO) test -count=1 -short -timeout 10m $(PKGS)

integration: deps
	$(GO) test -count=1 -timeout 30m ./integration/...

## pjdfstest: the POSIX suite alone, with every file's outcome in pjdfstest-report.txt.
pjdfstest: deps
	ARKERFS_PJDFSTEST_REPORT=$(CURDIR)/pjdfstest-report.txt $(GO) test -count=1 -timeout 30m -run '^TestPjdfstest$$' -v ./integration/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## cross: the tree builds for every platform we ship.
cross:
	GOOS=linux  GOARCH=amd64 $(GO) build -o /dev/null ./...
	GOOS=linux  GOARCH=arm64 $(GO) build -o /dev/null ./...
	GOOS=darwin GOARCH=amd64 $(GO) build -o /dev/null ./...
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./...

## deps: install the tools the tests drive, on Debian, when missing.
deps:
	@./scripts/deps.sh $(TOOLS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./transport/helper/
	$(GO) test -run '^$$' -fuzz FuzzArgRoundTrip -fuzztime 30s ./transport/helper/

bench: deps build
	$(GO) run ./integration/benchcmd -out docs/BENCHMARKS.md -json docs/benchmarks.json -png docs/benchmarks.png

## demo: mount an emulated VM seeded with a few files, no account needed.
demo: build
	./scripts/demo.sh

clean:
	rm -rf bin
