#!/usr/bin/env bash
# tools/cluster/run.sh (`make cluster`) — a single-node cluster with the project's image in it,
# for trying the install by hand; Ctrl-C (or the end of this script) tears it down.
#
# Builds what is missing (kube-apiserver/etcd, the node's binaries, the release binary, the
# image), starts the node in CLUSTER_DIR (default /tmp/launch-operator-node) and waits. In
# another shell:
#   export KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig PATH=<node bin>:$PATH   (printed below)
#   deploy/overlays/emulator/create-keys.sh
#   kubectl apply -k <an overlay setting the image printed below>
# It installs nothing of the project by itself; tests/e2e_node.rs is the automated version.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CLUSTER_DIR="${CLUSTER_DIR:-/tmp/launch-operator-node}"
KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$(tools/control-plane/build.sh | tail -n 1)}"
NODE_BIN="${NODE_BIN:-$(tools/cluster/build.sh | tail -n 1)}"
export KUBEBUILDER_ASSETS NODE_BIN
cargo build --release --locked --bin launch-operator
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
read -r ref archive < <(tools/cluster/image.sh operator "$target/release/launch-operator" | tail -n 1)
export IMAGES="$archive:${ref%:*}"
trap 'tools/cluster/down.sh "$CLUSTER_DIR"' EXIT
trap 'exit 0' INT TERM
tools/cluster/up.sh
cat <<MSG

The node is up. In another shell:
  export KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig PATH=$NODE_BIN:\$PATH
  deploy/overlays/emulator/create-keys.sh
and apply deploy/overlays/emulator with the image set to $ref
(a kustomization with \`resources: [$PWD/deploy/overlays/emulator]\` and
\`images: [{name: launch-operator, newName: ${ref%:*}, newTag: ${ref##*:}}]\`).
Ctrl-C tears the node down.
MSG
while :; do sleep 3600 & wait $!; done
