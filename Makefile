# gosledge — see README.md.
GO      ?= go
BIN     := bin
SLEDGE  := $(BIN)/sledge

.PHONY: all build run test race vet fmt wasm policies-wasm bench bench-go bench-policies fuzz proto clean sim-check bench-cluster

all: build

build:
	$(GO) build -o $(SLEDGE) ./cmd/sledge

# Serves the bundled example functions on the embedded default config.
run: build
	./$(SLEDGE) serve

# The full test suite: vet, gofmt check, and go test -race.
test: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Rebuilds the example .wasm from their C, Go and Rust sources (needs clang,
# lld, wasi-libc; Go; Debian's rustc with libstd-rust-dev-wasm32).
wasm:
	$(MAKE) -C examples/functions wasm

# Rebuilds the Wasm policy modules committed beside their sources: Go
# only, no other toolchain. (The core's tests build their own from source.)
policies-wasm:
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o examples/policies/llf/llf.wasm ./examples/policies/llf/cmd/llf-wasm

# The Go benchmarks, then a short side-by-side comparison of policies.
bench: bench-go
	@$(MAKE) --no-print-directory bench-policies

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./core/... ./plugins/... ./sdk/...

# The bundled bimodal workload on four policies, a few seconds each: a table
# on stdout; CSV, JSON and charts under results/ (git-ignored).
bench-policies: build
	./$(SLEDGE) bench --workload examples/workloads/bimodal.toml --policies fifo,fifo:nopreempt,edf,sjf --duration 4s

# Every fuzz target for FUZZTIME each (seeds are committed under each
# package's testdata/fuzz); minimisation is capped so a target's time is
# spent fuzzing.
FUZZTIME ?= 60s
FUZZ_TARGETS := core/instrument:FuzzInstrument core/instrument:FuzzInstrumentBody \
	core/config:FuzzParse core/config:FuzzLocator core:FuzzHTTP core:FuzzParseCGI

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./$$pkg; \
	done

# Regenerates sdk/plugin/proto from policy.proto. Needs protoc
# (apt-get install -y protobuf-compiler); the Go generators are pinned and
# installed into $(PROTO_BIN).
PROTO_BIN            := $(CURDIR)/$(BIN)/proto
PROTOC_GEN_GO        := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC   := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1

proto:
	@command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler"; exit 1; }
	GOBIN=$(PROTO_BIN) $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(PROTO_BIN) $(GO) install $(PROTOC_GEN_GO_GRPC)
	PATH="$(PROTO_BIN):$$PATH" protoc -I sdk/plugin/proto \
	  --go_out=sdk/plugin/proto --go_opt=paths=source_relative \
	  --go-grpc_out=sdk/plugin/proto --go-grpc_opt=paths=source_relative \
	  sdk/plugin/proto/policy.proto

clean:
	rm -rf $(BIN)

# Validation of the simulator, a report and not a test: the bundled bimodal
# and noisy-neighbour workloads on this machine (sledge bench, writing perf
# logs), then simulated (sledge sim) with service times sampled from those
# perf logs, and the two side by side (README "Simulating policies").
SIM_CHECK_POLICIES ?= fifo,fifo:nopreempt,edf
sim-check: build
	@for w in bimodal noisy-neighbour; do \
	  d=results/sim-check/$$w; rm -rf $$d; \
	  ./$(SLEDGE) bench --workload examples/workloads/$$w.toml --policies $(SIM_CHECK_POLICIES) --duration 4s --perflog $$d/perf --out $$d/bench --log-level warn >/dev/null || exit 1; \
	  ./$(SLEDGE) sim --workload examples/workloads/$$w.toml --policies $(SIM_CHECK_POLICIES) --duration 4s --service-from $$(ls $$d/perf/*.csv | head -1) --out $$d/sim --log-level warn >/dev/null || exit 1; \
	  ./$(SLEDGE) compare $$d/bench/results.json $$d/sim/results.json; echo; \
	done

# Three instances behind a real HAProxy (apt-get install -y haproxy), one
# with fewer workers: leastconn alone against leastconn + agent weights,
# REPEAT rounds interleaved (README "Running several instances").
REPEAT ?= 3
bench-cluster: build
	@command -v haproxy >/dev/null || { echo "haproxy not found: apt-get install -y haproxy"; exit 1; }
	REPEAT=$(REPEAT) SLEDGE=./$(SLEDGE) examples/cluster-bench.sh
