# arkerfs build, test and benchmark entry points.
GO       ?= go
PKGS     := ./...
BIN      := bin/arkerfs
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# Test binaries need these on the machine; `make deps` installs them.
# autoreconf, automake, gcc, make and prove build and run pjdfstest.
TOOLS    := rsync git vim curl tar sha256sum mount.fuse3 autoreconf automake gcc make prove setfattr
# Release binaries: static, one per platform we ship.
DIST      := dist
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

.PHONY: all build test unit integration pjdfstest lint cross deps bench demo fuzz release clean

all: build

## build: bin/arkerfs, static (no cgo: it is also the agent a mount puts on a
## linux VM of its arch), and the agent builds for linux VMs of either arch
## beside it (bin/arkerfs-linux-amd64, bin/arkerfs-linux-arm64), which a
## mount uploads when the VM is not of this machine's OS and arch.
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/arkerfs
	@for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(dir $(BIN))arkerfs-linux-$$arch ./cmd/arkerfs || exit 1; \
	done

## test: everything CI runs: lint, cross-compilation, unit and real-mount
## tests, pjdfstest among them (as root; the source is ../shared/tools/pjdfstest);
## the real-mount suite runs once per API lineage (a, then b), then once
## more with every mount using the agent on the VM.
test: deps lint cross
	$(GO) test -count=1 -timeout 30m $(PKGS)
	ARKERFS_TEST_API=b $(GO) test -count=1 -timeout 30m ./integration/
	ARKERFS_TEST_AGENT=1 $(GO) test -count=1 -timeout 30m ./integration/

unit:
	$(GO) test -count=1 -short -timeout 10m $(PKGS)

integration: deps
	$(GO) test -count=1 -timeout 30m ./integration/...
	ARKERFS_TEST_API=b $(GO) test -count=1 -timeout 30m ./integration/
	ARKERFS_TEST_AGENT=1 $(GO) test -count=1 -timeout 30m ./integration/

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

## release: static binaries (no cgo) for every platform we ship, named
## arkerfs-VERSION-OS-ARCH, with VERSION in 'arkerfs version', and their
## SHA256SUMS. VERSION=v1.2.3 make release names a version.
release:
	rm -rf $(DIST) && mkdir -p $(DIST)
	@for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=$(DIST)/arkerfs-$(VERSION)-$$os-$$arch; \
	  echo "release: $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $$out ./cmd/arkerfs || exit 1; \
	done
	cd $(DIST) && sha256sum arkerfs-* > SHA256SUMS

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
	rm -rf bin $(DIST)
