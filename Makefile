# Developer entry points. `make test` is the single test command (README, .ci/run).

CARGO ?= cargo

.PHONY: test lint unit crds

## Everything CI runs: formatting, lints, and every test suite.
test: lint unit

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --all-targets --locked

## Regenerate the committed CRD after changing src/crd or src/rules.
crds:
	$(CARGO) run --quiet --locked -- crds > crds/launch.yaml
