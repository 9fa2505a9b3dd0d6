# gosledge — see README.md.
GO      ?= go
BIN     := bin
SLEDGE  := $(BIN)/sledge

.PHONY: all build run test race vet fmt wasm bench bench-go bench-policies fuzz clean

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

# Rebuilds the example .wasm from their C sources (needs clang, lld, wasi-libc).
wasm:
	$(MAKE) -C examples/functions wasm

# The Go benchmarks, then a short side-by-side comparison of policies.
bench: bench-go
	@$(MAKE) --no-print-directory bench-policies

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./core/... ./plugins/...

# The bundled bimodal workload on four policies, a few seconds each: a table
# on stdout; CSV, JSON and charts under results/ (git-ignored).
bench-policies: build
	./$(SLEDGE) bench --workload examples/workloads/bimodal.toml --policies fifo,fifo:nopreempt,edf,sjf --duration 4s

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzInstrument$$' -fuzztime 60s ./core/instrument

clean:
	rm -rf $(BIN)
