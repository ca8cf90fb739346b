# edgeplane — make targets. Everything needs only Go (1.26+); `make e2e`
# also needs mosquitto and kcat (Debian: apt-get install mosquitto kcat).

GO        ?= go
BIN       := bin
PKG       := github.com/edgeplane/edgeplane
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X $(PKG)/internal/version.Version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run demo test schema test-short e2e bench bench-e2e lint fmt fuzz clean arm64 arm deb tarball qemu-arm64 footprint

all: build

## build: build bin/edgeplane (the gateway), bin/edgeplane-demo (the gateway plus the demo's in-process Kafka and simulated sensors: -tags demo) and bin/edgebench for this machine
build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/edgeplane ./cmd/edgeplane
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -tags demo -o $(BIN)/edgeplane-demo ./cmd/edgeplane
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/edgebench ./cmd/edgebench

## run: build and run the demo — embedded NATS + MQTT, in-process Kafka, simulated sensors (Ctrl-C stops)
run: build
	./$(BIN)/edgeplane-demo demo $(DEMO_ARGS)

demo: run

## test: go vet and every test with the race detector (real NATS, MQTT and Kafka-protocol servers in-process), uncached
test:
	$(GO) vet ./...
	$(GO) vet -tags demo ./cmd/edgeplane
	@# -tags demo: the demo's tests too (cmd/edgeplane/demo_test.go); the
	@# gateway build's own (demo_off_test.go) runs below.
	$(GO) test -race -count=1 -timeout 20m -tags demo ./...
	$(GO) test -count=1 -run 'GatewayHasNoDemo|GatewayLinksNoReporting' ./cmd/edgeplane
	@# Allocation budgets, the resident-set test and the 1,000-connection
	@# WebSocket test skip themselves under -race, whose instrumentation
	@# allocates and shadows memory: run them plain.
	$(GO) test -count=1 -run 'Alloc|ManyConnections|ShardResidentFollowsSeries' ./...
	@# The coarse clock's synctest twin (internal/clock/clock_synctest.go).
	$(GO) test -count=1 -tags edgeplane_synctest ./internal/clock

## schema: regenerate configs/edgeplane.schema.json from the Go schema (config/*.go)
schema:
	$(GO) test -count=1 ./config -run TestSchemaCurrent -update

## test-short: the tests without the race detector
test-short:
	$(GO) test -timeout 10m ./...

## e2e: end-to-end tests against a real Mosquitto broker and kcat
e2e:
	$(GO) test -race -tags e2e -timeout 15m -run 'Mosquitto|HeldAcks' ./pipeline/
	EDGEPLANE_REQUIRE_MOSQUITTO=1 $(GO) test -race -timeout 10m -run 'MQTTSharedSubscription|MQTTHoldAcks|MQTTTLSAndPassword' ./ingest/
	EDGEPLANE_REQUIRE_MOSQUITTO=1 $(GO) test -timeout 10m -run 'PeersScenarioThroughMosquitto' ./bench/
	$(GO) test -race -tags e2e -timeout 15m -run 'Outage60s|Crash10|TopicRecreated45s' ./sink/

## bench-e2e: the standard end-to-end benchmark (edgeplane as a subprocess); report in bench/results/
bench-e2e: build
	./$(BIN)/edgebench run --scenario standard --target subprocess --edgeplane-bin $(BIN)/edgeplane --out bench/results

## bench: every benchmark with allocation counts
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags demo ./cmd/edgeplane

fmt:
	gofmt -w $$(git ls-files '*.go')

## fuzz: run each fuzz target briefly (FUZZTIME, default 20s)
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) data dist

## arm64: static linux/arm64 binaries in bin/linux-arm64/
arm64:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/linux-arm64/edgeplane ./cmd/edgeplane
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -tags demo -o $(BIN)/linux-arm64/edgeplane-demo ./cmd/edgeplane
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/linux-arm64/edgebench ./cmd/edgebench

## arm: static linux/arm binaries (GOARM=7: 32-bit Raspberry Pi OS, ARMv7 boards) in bin/linux-arm/
arm:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/linux-arm/edgeplane ./cmd/edgeplane
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(GOFLAGS_BUILD) -tags demo -o $(BIN)/linux-arm/edgeplane-demo ./cmd/edgeplane
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/linux-arm/edgebench ./cmd/edgebench

## deb: dist/edgeplane_<version>_arm64.deb with nfpm (builds bin/linux-arm64 if missing; GOARCH=arm for armhf)
deb:
	VERSION=$(VERSION) deploy/arm64/build-deb.sh

## tarball: dist/edgeplane_<version>_linux_arm64.tar.gz with install.sh
tarball:
	VERSION=$(VERSION) deploy/arm64/build-tarball.sh

## qemu-arm64: the arm64 binary and the ring/operators tests under qemu-user (ARM32=1 adds linux/arm)
qemu-arm64:
	.ci/qemu-arm64.sh

## footprint: binary sizes (fails above FOOTPRINT_MAX_MIB), idle RSS/CPU (FOOTPRINT_IDLE_SECONDS, default 60), RSS/CPU at 2000 msg/s; FOOTPRINT_SIZES_ONLY=1: sizes only
footprint:
	.ci/footprint.sh
