# Developer entry points. `make test` is the single test command (README, .ci/run).

CARGO ?= cargo

.PHONY: test crds control-plane

## Everything CI runs: formatting, lints and every test suite, prerequisites included.
test:
	tools/test.sh

## Build (or find in the cache) kube-apiserver and etcd for the end-to-end suites.
control-plane:
	tools/control-plane/build.sh

## Regenerate the committed CRD after changing src/crd or src/rules.
crds:
	$(CARGO) run --quiet --locked -- crds > crds/launch.yaml
