# isaplay — build, test, demo and benchmarks. Every target installs what it needs itself.
GO        ?= go
BIN       := bin/isaplay
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.Version=$(VERSION)
export ISAPLAY_WSO2_REFERENCE ?= $(abspath ../shared/wso2-reference)

.PHONY: build deps test demo bench lint fuzz clean

# A static binary: no cgo, nothing to install on the controller or the targets.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/isaplay

# OpenSSH's sshd, MariaDB, Subversion and sudo for the test nodes (apt-get, idempotent).
deps:
	sh testdata/cluster/install.sh

# The whole test suite: unit tests, real sshd nodes, real MariaDB, real svnserve.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

# The main job on a built-in demo: test nodes on this machine, plan, apply, apply again.
demo: deps build
	sh testdata/demo/demo.sh

bench: deps build
	sh testdata/bench/bench.sh
	ISAPLAY=$(abspath $(BIN)) sh testdata/bench/pattern2.sh
	ISAPLAY=$(abspath $(BIN)) sh testdata/bench/unpack.sh

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...

clean:
	rm -rf bin
