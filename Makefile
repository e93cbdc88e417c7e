# Developer entry points. `make test` is the single test command (README, .ci/run).

CARGO ?= cargo

.PHONY: test crds control-plane cluster quickstart

## Everything CI runs: formatting, lints and every test suite, prerequisites included.
test:
	tools/test.sh

## Build (or find in the cache) kube-apiserver and etcd for the end-to-end suites.
control-plane:
	tools/control-plane/build.sh

## A single-node cluster (kubelet, containerd, CNI, CoreDNS) with the project's image imported,
## for trying deploy/ by hand (tools/cluster/README.md). Needs root. Ctrl-C tears it down.
cluster:
	tools/cluster/run.sh

## Regenerate the committed CRDs after changing src/crd or src/rules.
crds:
	$(CARGO) run --quiet --locked -- crds > crds/crds.yaml

## Everything on this machine: control plane, emulator, controller, examples applied. Ctrl-C stops.
quickstart:
	$(CARGO) build --quiet --locked --bin launch-operator
	$(CARGO) run --quiet --locked --example quickstart

## Benchmarks (BENCHMARKS.md): convergence, latency, steady state, memory, emulator, a whole setup; prints one
## table and writes it to BENCHMARKS.md. Sizes: BENCH_N, BENCH_SEQ, BENCH_IDLE_SECS, BENCH_MEMORY_N,
## BENCH_EMULATOR_CREATES, BENCH_EMULATOR_GETS, BENCH_EMULATOR_LEVELS, BENCH_SETUP (all in BENCHMARKS.md).
.PHONY: bench bench-emulator
bench:
	$(CARGO) test --release --locked --test bench bench -- --ignored --exact --nocapture --test-threads=1

## Part 5 of the benchmarks alone (the emulator: CreateLaunch, GetLaunch, EvaluateFeature,
## BatchEvaluateFeature against the no-work floor); prints, writes nothing.
bench-emulator:
	$(CARGO) test --release --locked --test bench bench_emulator -- --ignored --exact --nocapture

## Part 6 of the benchmarks alone (a whole setup from empty, issue 14); prints, writes nothing.
## Sizes: BENCH_SETUP="projects,features,segments,launches" (default "3,200,20,1000").
.PHONY: bench-setup
bench-setup:
	$(CARGO) test --release --locked --test bench bench_setup -- --ignored --exact --nocapture
