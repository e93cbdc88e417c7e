#!/usr/bin/env bash
# The single test command (`make test`): formatting, lints, every test suite, with every
# prerequisite provided. Two test control planes (kube-apiserver + etcd, built from Go modules
# into a cache outside the repository, one directory per version) are built in the background
# while Rust compiles: the newest supported Kubernetes version (build.sh's default), on which
# every suite runs, and the oldest (K8S_VERSION_OLDEST), on which the smoke and admission suite
# (tests/e2e_smoke.rs) runs a second time. A cold build takes about 10 minutes per version on 2
# cores, a warm one well under a second. KUBEBUILDER_ASSETS / KUBEBUILDER_ASSETS_OLDEST, if set,
# are used instead of building. The test node's binaries (tools/cluster/build.sh: kubelet,
# kube-proxy, kube-controller-manager, kube-scheduler, kubectl, CoreDNS, pause; NODE_BIN if set)
# are built in the same background job, after the newest control plane, whose packages they
# share; the node test (tests/e2e_node.rs) also needs Debian's containerd, runc, CNI plugins,
# iptables, conntrack and umoci, installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest supported version (README, "Supported Kubernetes versions").
K8S_VERSION_OLDEST="${K8S_VERSION_OLDEST:-v1.30.14}"

log_dir="${TMPDIR:-/tmp}/launch-operator-test-$$"
mkdir -p "$log_dir"
trap 'rm -rf "$log_dir"' EXIT

# One after the other: they share the 2 cores with cargo anyway, and the newest comes first so a
# broken Go setup shows up early. Each writes its bin directory as the last line of its .out.
build_control_planes() {
  if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
    tools/control-plane/build.sh >"$log_dir/newest.out" 2>"$log_dir/newest.err" || { echo newest >"$log_dir/failed"; return 1; }
  fi
  if [ -z "${NODE_BIN:-}" ]; then
    tools/cluster/build.sh >"$log_dir/node.out" 2>"$log_dir/node.err" || { echo node >"$log_dir/failed"; return 1; }
  fi
  if [ -z "${KUBEBUILDER_ASSETS_OLDEST:-}" ]; then
    env -u KUBEBUILDER_ASSETS K8S_VERSION="$K8S_VERSION_OLDEST" tools/control-plane/build.sh \
      >"$log_dir/oldest.out" 2>"$log_dir/oldest.err" || { echo oldest >"$log_dir/failed"; return 1; }
  fi
}
if [ -z "${KUBEBUILDER_ASSETS:-}" ] || [ -z "${KUBEBUILDER_ASSETS_OLDEST:-}" ] || [ -z "${NODE_BIN:-}" ]; then
  echo "==> building the test control planes and the test node's binaries in the background (tools/control-plane/build.sh: default and $K8S_VERSION_OLDEST; tools/cluster/build.sh)"
  build_control_planes &
  cp_pid=$!
fi

# PostgreSQL's server binaries for the store tests (tests/support/postgres.rs): Debian's
# package, installed when missing (CI runs as root; elsewhere install `postgresql` yourself).
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && [ -z "${PG_BIN:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing PostgreSQL (apt-get install postgresql)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "error: PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); install Debian's postgresql package or set PG_BIN" >&2
    exit 1
  fi
fi

# The test node's runtime (tests/e2e_node.rs): Debian's packages, installed when missing.
node_packages=()
for cmd_pkg in containerd:containerd runc:runc ctr:containerd iptables:iptables conntrack:conntrack umoci:umoci \
               openssl:openssl ip:iproute2 sysctl:procps nsenter:util-linux; do
  command -v "${cmd_pkg%%:*}" >/dev/null || node_packages+=("${cmd_pkg#*:}")
done
[ -x /usr/lib/cni/bridge ] || node_packages+=(containernetworking-plugins)
if [ "${#node_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing the test node's runtime (apt-get install ${node_packages[*]})"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${node_packages[@]}" >/dev/null
  else
    echo "error: the node test needs root and Debian's ${node_packages[*]} (apt-get install them)" >&2
    exit 1
  fi
fi

echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "==> compiling the test suites"
cargo test --all-targets --locked --no-run
echo "==> the release binary (the node test's image, tools/cluster/image.sh)"
cargo build --release --locked --bin launch-operator

if [ -n "${cp_pid:-}" ]; then
  echo "==> waiting for the test control planes"
  if ! wait "$cp_pid"; then
    which="$(cat "$log_dir/failed" 2>/dev/null || echo newest)"
    tail -n 60 "$log_dir/$which.err" >&2
    echo "error: building $which (kube-apiserver/etcd of the newest or oldest supported version, or the test node's binaries) failed (see above). It needs Go >= 1.26" >&2
    echo "       and the Go module proxy; or set KUBEBUILDER_ASSETS (newest) and KUBEBUILDER_ASSETS_OLDEST" >&2
    echo "       to directories holding kube-apiserver and etcd." >&2
    exit 1
  fi
  if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then KUBEBUILDER_ASSETS="$(tail -n 1 "$log_dir/newest.out")"; fi
  if [ -z "${KUBEBUILDER_ASSETS_OLDEST:-}" ]; then KUBEBUILDER_ASSETS_OLDEST="$(tail -n 1 "$log_dir/oldest.out")"; fi
  if [ -z "${NODE_BIN:-}" ]; then NODE_BIN="$(tail -n 1 "$log_dir/node.out")"; fi
fi
export KUBEBUILDER_ASSETS NODE_BIN
echo "==> control plane binaries: $KUBEBUILDER_ASSETS ($("$KUBEBUILDER_ASSETS/kube-apiserver" --version))"
echo "    oldest supported:       $KUBEBUILDER_ASSETS_OLDEST ($("$KUBEBUILDER_ASSETS_OLDEST/kube-apiserver" --version))"
echo "    test node:              $NODE_BIN ($("$NODE_BIN/kubelet" --version))"

echo "==> cargo test (every suite, newest supported Kubernetes)"
cargo test --all-targets --locked

echo "==> cargo test --test e2e_smoke (smoke and admission suite, oldest supported Kubernetes)"
KUBEBUILDER_ASSETS="$KUBEBUILDER_ASSETS_OLDEST" cargo test --locked --test e2e_smoke

echo "==> boto3 1.42.50 against the emulator (tools/python-tests.sh)"
tools/python-tests.sh
