#!/usr/bin/env bash
# tools/cluster/up.sh — start a single-node Kubernetes cluster for tests, in a network namespace.
#
#   CLUSTER_DIR=/tmp/lo-node KUBEBUILDER_ASSETS=... NODE_BIN=... IMAGES="archive:base ..." tools/cluster/up.sh
#
# WHAT IT DOES
#   - Makes a network namespace (lo-node) joined to the host by a veth pair: the host side is
#     10.245.0.1, the node 10.245.0.2. Every component runs in it (nsenter --net, the host's
#     mount namespace), so its bridge, iptables rules and sysctls vanish with it, and the only
#     address the host talks to is the node's.
#   - Certificates (openssl): one CA; the API server's serving certificate (node IP, Service IP
#     10.96.0.1, kubernetes.default.svc...); client certificates for admin (system:masters), the
#     kubelet (system:node:lo-node), kube-controller-manager, kube-scheduler and kube-proxy.
#   - etcd and kube-apiserver (from KUBEBUILDER_ASSETS, tools/control-plane/build.sh), then
#     kube-controller-manager, kube-scheduler, containerd (Debian's, its own root, state and
#     socket under CLUSTER_DIR) with runc and the CNI bridge/host-local/loopback plugins
#     (10.244.0.0/24), the kubelet (cgroupfs driver, cgroup root /launch-operator-node) and
#     kube-proxy (iptables) from NODE_BIN (tools/cluster/build.sh).
#   - Imports the pause and CoreDNS images (tools/cluster/image.sh) and every archive of IMAGES
#     (`ARCHIVE:BASE_NAME` words) into containerd's k8s.io namespace; runs CoreDNS as a
#     Deployment behind Service kube-dns (10.96.0.10); adds a static local PersistentVolume
#     (1Gi, no storage class) for the emulator's claim.
#   - Waits (each wait with a deadline) for the node to be Ready and CoreDNS to answer, writes
#     $CLUSTER_DIR/admin.kubeconfig and prints the time it took.
#
# WHAT IT DELIBERATELY DOES NOT DO
#   - It runs no project workload and builds nothing. It never touches the host's own network
#     (only the veth's host end), iptables or /var/lib; it is not a production cluster (no HA,
#     no TLS bootstrap, one node named lo-node, no NetworkPolicy enforcement).
#   - Teardown is tools/cluster/down.sh CLUSTER_DIR (also on any failure here).
set -euo pipefail

CLUSTER_DIR="${CLUSTER_DIR:-/tmp/launch-operator-node}"
NETNS=lo-node NODE_NAME=lo-node
HOST_IP=10.245.0.1 NODE_IP=10.245.0.2
POD_CIDR=10.244.0.0/24 SVC_CIDR=10.96.0.0/24 KUBE_SVC_IP=10.96.0.1 DNS_IP=10.96.0.10
CGROUP_ROOT=launch-operator-node
CNI_BIN="${CNI_BIN:-/usr/lib/cni}"
HERE="$(cd "$(dirname "$0")" && pwd)"
START=$SECONDS

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# --- prerequisites: each missing piece says how to get it ------------------------------------------
[[ $(id -u) == 0 ]] || die "the node needs root (network namespace, mounts, cgroups)"
[[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]] \
  || die "KUBEBUILDER_ASSETS must hold kube-apiserver and etcd: export KUBEBUILDER_ASSETS=\$(tools/control-plane/build.sh)"
[[ -n "${NODE_BIN:-}" ]] || die "NODE_BIN is not set: export NODE_BIN=\$(tools/cluster/build.sh)"
for b in kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns pause; do
  [[ -x "$NODE_BIN/$b" ]] || die "$NODE_BIN/$b is missing: run tools/cluster/build.sh"
done
for b in containerd containerd-shim-runc-v2 ctr runc iptables nsenter openssl ip conntrack umoci sysctl; do
  command -v "$b" >/dev/null || die "'$b' not found: apt-get install containerd runc containernetworking-plugins iptables conntrack umoci util-linux iproute2 openssl procps"
done
# The kubelet here runs with the cgroupfs driver on cgroup v1 hierarchies (this sandbox has no
# unified v2 hierarchy to delegate).
[[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpuset ]] \
  || die "the test node needs cgroup v1 (/sys/fs/cgroup/memory, /sys/fs/cgroup/cpuset); this host mounts $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup"
# Bridged pod traffic must pass iptables for Services: the br_netfilter module.
[[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter 2>/dev/null \
  || die "/proc/sys/net/bridge is missing and 'modprobe br_netfilter' failed: load the br_netfilter module"

for p in bridge host-local loopback; do
  [[ -x "$CNI_BIN/$p" ]] || die "CNI plugin $CNI_BIN/$p missing: apt-get install containernetworking-plugins (or set CNI_BIN)"
done
if ip netns list 2>/dev/null | grep -qw "$NETNS"; then
  die "network namespace $NETNS exists: another node is up (or was left behind); tools/cluster/down.sh <its CLUSTER_DIR> ends it"
fi

KUBECTL="$NODE_BIN/kubectl"
mkdir -p "$CLUSTER_DIR"/{pki,etcd,logs,run,kubelet,pod-logs,containerd,cni/net.d,cni/ipam,pv/emulator-data}
CLUSTER_DIR="$(cd "$CLUSTER_DIR" && pwd)"
PKI="$CLUSTER_DIR/pki"
# From here on any failure tears down what was started.
trap 'rc=$?; if (( rc != 0 )); then log "start-up failed; tearing down"; "$HERE/down.sh" "$CLUSTER_DIR" || true; fi' EXIT

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds, or fail with WHAT and the logs.
wait_for() {
  local what="$1" secs="$2" deadline=$((SECONDS + $2)); shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then
      log "timed out after ${secs}s waiting for $what; last log lines:"
      for f in "$CLUSTER_DIR"/logs/*.log; do echo "--- $f" >&2; tail -n 15 "$f" >&2; done
      exit 1
    fi
    sleep 0.5
  done
}
# start NAME CMD...: run CMD in the node's network namespace, in a session of its own (a Ctrl-C
# of the caller does not reach it; down.sh ends it by the pid recorded here).
start() {
  local name="$1"; shift
  nsenter --net="/run/netns/$NETNS" setsid "$@" >"$CLUSTER_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$CLUSTER_DIR/run/$name.pid"
}
in_node() { nsenter --net="/run/netns/$NETNS" "$@"; }

# --- network namespace ----------------------------------------------------------------------------
ip netns add "$NETNS"
echo "$NETNS" >"$CLUSTER_DIR/run/netns"
ip link add lo-node-h type veth peer name eth0 netns "$NETNS"
ip addr add "$HOST_IP/30" dev lo-node-h
ip link set lo-node-h up
ip -n "$NETNS" link set lo up
ip -n "$NETNS" addr add "$NODE_IP/30" dev eth0
ip -n "$NETNS" link set eth0 up
ip -n "$NETNS" route add default via "$HOST_IP"
# Service routing between pods on one bridge needs bridged traffic to pass iptables.
in_node sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.ipv4.conf.all.route_localnet=1

# --- certificates ---------------------------------------------------------------------------------
ssl() { openssl "$@" 2>/dev/null; }
ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=launch-operator-node-ca" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt"
# cert NAME SUBJECT [SAN]: a key and a certificate signed by the CA.
cert() {
  local name="$1" subj="$2" san="${3:-}" ext="$PKI/$1.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' >"$ext"
  if [[ -n "$san" ]]; then printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" >>"$ext"
  else printf 'extendedKeyUsage=clientAuth\n' >>"$ext"; fi
  ssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" -keyout "$PKI/$name.key" -out "$PKI/$name.csr"
  ssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 2 -extfile "$ext" -out "$PKI/$name.crt"
}
cert apiserver "/CN=kube-apiserver" \
  "IP:$NODE_IP,IP:$KUBE_SVC_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=admin"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert proxy "/CN=system:kube-proxy"
ssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/sa.key"
ssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

# kubeconfig NAME: $CLUSTER_DIR/NAME.kubeconfig for the client certificate NAME.
kubeconfig() {
  cat >"$CLUSTER_DIR/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: lo-node, cluster: {server: "https://$NODE_IP:6443", certificate-authority: "$PKI/ca.crt"}}]
users: [{name: $1, user: {client-certificate: "$PKI/$1.crt", client-key: "$PKI/$1.key"}}]
contexts: [{name: lo-node, context: {cluster: lo-node, user: $1}}]
current-context: lo-node
EOF
}
for c in admin kubelet controller-manager scheduler proxy; do kubeconfig "$c"; done
export KUBECONFIG="$CLUSTER_DIR/admin.kubeconfig"

# --- etcd and kube-apiserver ----------------------------------------------------------------------
start etcd "$KUBEBUILDER_ASSETS/etcd" --data-dir="$CLUSTER_DIR/etcd" \
  --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=default=http://127.0.0.1:2380 --unsafe-no-fsync=true --log-level=warn
start kube-apiserver "$KUBEBUILDER_ASSETS/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$NODE_IP" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --service-account-issuer="https://kubernetes.default.svc" --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" --service-cluster-ip-range="$SVC_CIDR" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
  --cert-dir="$PKI" --v=1
wait_for "kube-apiserver /readyz" 120 "$KUBECTL" get --raw /readyz
log "control plane up after $((SECONDS - START)) s"

# --- controllers and scheduler --------------------------------------------------------------------
start kube-controller-manager "$NODE_BIN/kube-controller-manager" \
  --kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" --bind-address=127.0.0.1 \
  --authentication-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
  --use-service-account-credentials=true --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" --service-cluster-ip-range="$SVC_CIDR" --leader-elect=false --v=1
start kube-scheduler "$NODE_BIN/kube-scheduler" --kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --v=1

# --- containerd, CNI, images -----------------------------------------------------------------------
line="$("$HERE/image.sh" pause "$NODE_BIN")" || die "building the pause image failed"
read -r PAUSE_REF PAUSE_TAR <<<"${line##*$'\n'}"
line="$("$HERE/image.sh" coredns "$NODE_BIN")" || die "building the CoreDNS image failed"
read -r COREDNS_REF COREDNS_TAR <<<"${line##*$'\n'}"
CTRD="$CLUSTER_DIR/containerd"
cat >"$CTRD/config.toml" <<EOF
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CTRD/containerd.sock"
[ttrpc]
  address = "$CTRD/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_REF"
  netns_mounts_under_state_dir = true
  # This sandbox lacks CAP_SYS_RESOURCE: a pod's oom_score_adj may not be below containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CTRD/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$CLUSTER_DIR/cni/net.d"
EOF
cat >"$CLUSTER_DIR/cni/net.d/10-lo-node.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "lo-node", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "$CLUSTER_DIR/cni/ipam"}}]}
EOF
start containerd containerd --config "$CTRD/config.toml"
ctr_() { ctr --address "$CTRD/containerd.sock" -n k8s.io "$@"; }
wait_for "containerd" 60 ctr_ version
# import ARCHIVE BASE_NAME (the archive's tag annotation supplies the tag)
import() { ctr_ images import --base-name "$2" "$1" >>"$CLUSTER_DIR/logs/images.log" 2>&1 || die "ctr images import $1 failed: $(tail -n 5 "$CLUSTER_DIR/logs/images.log")"; }
import "$PAUSE_TAR" "${PAUSE_REF%:*}"
import "$COREDNS_TAR" "${COREDNS_REF%:*}"
for word in ${IMAGES:-}; do import "${word%%:*}" "${word#*:}"; done
ctr_ images label "$PAUSE_REF" io.cri-containerd.pinned=pinned >/dev/null

# --- kubelet ---------------------------------------------------------------------------------------
# A cgroup root of its own in every v1 hierarchy, so down.sh removes exactly what the node made.
for h in /sys/fs/cgroup/*/; do
  [[ "$h" == */unified/ ]] && continue
  mkdir -p "$h$CGROUP_ROOT"
done
cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.cpus"
cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.mems"
cat >"$CLUSTER_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
containerRuntimeEndpoint: "unix://$CTRD/containerd.sock"
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: ""
podLogsDir: "$CLUSTER_DIR/pod-logs"
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
# The kubelet sets these kernel settings, which a network namespace does not isolate: they are
# the host's. down.sh writes the values saved here back.
[[ -f "$CLUSTER_DIR/run/sysctls" ]] || sysctl vm.overcommit_memory vm.panic_on_oom kernel.panic \
  kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes >"$CLUSTER_DIR/run/sysctls"
start kubelet "$NODE_BIN/kubelet" --config="$CLUSTER_DIR/kubelet/config.yaml" \
  --kubeconfig="$CLUSTER_DIR/kubelet.kubeconfig" --root-dir="$CLUSTER_DIR/kubelet" \
  --cert-dir="$CLUSTER_DIR/kubelet/pki" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1

# --- kube-proxy -------------------------------------------------------------------------------------
cat >"$CLUSTER_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$CLUSTER_DIR/proxy.kubeconfig"}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "$NODE_BIN/kube-proxy" --config="$CLUSTER_DIR/kube-proxy.yaml" --v=1

wait_for "node $NODE_NAME Ready" 120 "$KUBECTL" wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
log "node Ready after $((SECONDS - START)) s"

# --- cluster DNS and the emulator's volume -------------------------------------------------------------
sed -e "s|@COREDNS_IMAGE@|$COREDNS_REF|" -e "s|@DNS_IP@|$DNS_IP|" "$HERE/addons.yaml" \
  | sed -e "s|@PV_PATH@|$CLUSTER_DIR/pv/emulator-data|" -e "s|@NODE_NAME@|$NODE_NAME|" \
  | "$KUBECTL" apply -f - >"$CLUSTER_DIR/logs/addons.log"
wait_for "CoreDNS Ready" 120 "$KUBECTL" -n kube-system wait --for=condition=Available deployment/coredns --timeout=1s

printf 'export KUBECONFIG=%s\n' "$KUBECONFIG" >"$CLUSTER_DIR/env"
log "cluster up in $((SECONDS - START)) s: export KUBECONFIG=$KUBECONFIG (down: tools/cluster/down.sh $CLUSTER_DIR)"
trap - EXIT
