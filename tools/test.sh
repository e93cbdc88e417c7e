#!/usr/bin/env bash
# The single test command (`make test`): formatting, lints, every test suite, with every
# prerequisite provided. The test control plane (kube-apiserver + etcd, built from Go modules
# into a cache outside the repository) is built in the background while Rust compiles; a cold
# build takes about 10 minutes on 2 cores, a warm one well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log_dir="${TMPDIR:-/tmp}/launch-operator-test-$$"
mkdir -p "$log_dir"
trap 'rm -rf "$log_dir"' EXIT

if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
  echo "==> building the test control plane in the background (tools/control-plane/build.sh)"
  tools/control-plane/build.sh >"$log_dir/cp.out" 2>"$log_dir/cp.err" &
  cp_pid=$!
fi

echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "==> compiling the test suites"
cargo test --all-targets --locked --no-run

if [ -n "${cp_pid:-}" ]; then
  echo "==> waiting for the test control plane"
  if ! wait "$cp_pid"; then
    tail -n 60 "$log_dir/cp.err" >&2
    echo "error: building kube-apiserver/etcd failed (see above). It needs Go >= 1.26 and the Go module proxy;" >&2
    echo "       or set KUBEBUILDER_ASSETS to a directory holding kube-apiserver and etcd." >&2
    exit 1
  fi
  KUBEBUILDER_ASSETS="$(tail -n 1 "$log_dir/cp.out")"
  export KUBEBUILDER_ASSETS
fi
echo "==> control plane binaries: $KUBEBUILDER_ASSETS"

echo "==> cargo test"
cargo test --all-targets --locked

echo "==> boto3 1.42.50 against the emulator (tools/python-tests.sh)"
tools/python-tests.sh
