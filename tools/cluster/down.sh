#!/usr/bin/env bash
# tools/cluster/down.sh CLUSTER_DIR — end the test node tools/cluster/up.sh started in CLUSTER_DIR.
#
# Idempotent and safe on a half-started node: it ends the recorded processes by pid (TERM, then
# KILL), the containers' processes (found in the node's cgroup root) and containerd's shims (found
# by the node's own containerd socket path), unmounts everything under CLUSTER_DIR, removes the
# node's cgroups, deletes the network namespace (which takes the bridge, the veth pair, the pods'
# addresses and every iptables rule of kube-proxy with it), removes the pod-log links kubelet
# left in /var/log/containers, then CLUSTER_DIR itself (unless KEEP_CLUSTER is set).
# It touches nothing the node did not make.
set -uo pipefail
dir="${1:?usage: $0 CLUSTER_DIR}"
[[ -d "$dir" ]] || exit 0
dir="$(cd "$dir" && pwd)"
CGROUP_ROOT=launch-operator-node
log() { printf '[cluster] %s\n' "$*" >&2; }

exec 9>"$dir/.down.lock"
flock 9

# stop PID...: TERM, wait up to 10 s, then KILL.
stop() {
  local pids=("$@") p left deadline=$((SECONDS + 10))
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null
  while :; do
    left=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    ((${#left[@]})) || return 0
    ((SECONDS < deadline)) || break
    sleep 0.2
  done
  kill -KILL "${left[@]}" 2>/dev/null
}
pid_of() { [[ -f "$dir/run/$1.pid" ]] && cat "$dir/run/$1.pid"; }

# 1. The kubelet first (so it restarts nothing), then the other components.
for name in kubelet kube-proxy kube-scheduler kube-controller-manager; do
  p="$(pid_of "$name")" && stop "$p"
done
# 2. Every process in the node's cgroups (the containers), then the shims of this containerd.
cgroup_procs() { cat /sys/fs/cgroup/pids/$CGROUP_ROOT/**/cgroup.procs /sys/fs/cgroup/pids/$CGROUP_ROOT/cgroup.procs 2>/dev/null | sort -u; }
shopt -s globstar nullglob
mapfile -t procs < <(cgroup_procs)
((${#procs[@]})) && kill -KILL "${procs[@]}" 2>/dev/null
sock="$dir/containerd/containerd.sock"
shims=()
for c in /proc/[0-9]*/cmdline; do
  if { tr '\0' ' ' <"$c"; } 2>/dev/null | grep -q -- "containerd-shim-runc-v2 .*-address $sock\b"; then
    p="${c#/proc/}"; shims+=("${p%/cmdline}")
  fi
done
p="$(pid_of containerd)" && stop "$p"
((${#shims[@]})) && stop "${shims[@]}"
for name in kube-apiserver etcd; do
  p="$(pid_of "$name")" && stop "$p"
done
# 3. Mounts under the node's directory (deepest first; lazily if still busy).
for attempt in 1 2 3; do
  mapfile -t mounts < <(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  ((${#mounts[@]})) || break
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done
# 4. Cgroups, deepest first (a cgroup with processes left in it cannot be removed: retry briefly).
for attempt in $(seq 1 20); do
  left=0
  for h in /sys/fs/cgroup/*/$CGROUP_ROOT; do
    find "$h" -depth -type d -exec rmdir {} + 2>/dev/null
    [[ -d "$h" ]] && left=1
  done
  ((left)) || break
  mapfile -t procs < <(cgroup_procs)
  ((${#procs[@]})) && kill -KILL "${procs[@]}" 2>/dev/null
  sleep 0.25
done
# 5. The host's kernel settings the kubelet changed, as up.sh found them.
if [[ -f "$dir/run/sysctls" ]]; then
  while read -r name _ value; do
    [[ -n "$name" && -n "$value" ]] && sysctl -qw "$name=$value"
  done <"$dir/run/sysctls"
fi
# CNI's result cache (/var/lib/cni, outside the node's directory): the node's network, and the
# loopback results of the node's pod sandboxes (named by sandbox id, as containerd keeps them).
rm -f /var/lib/cni/results/lo-node-* 2>/dev/null
for s in "$dir"/containerd/root/io.containerd.grpc.v1.cri/sandboxes/*/; do
  s="${s%/}"
  rm -f /var/lib/cni/results/cni-loopback-"${s##*/}"-lo 2>/dev/null
done
# 6. The network namespace, and with it the node's interfaces and iptables rules.
if [[ -f "$dir/run/netns" ]]; then
  ns="$(cat "$dir/run/netns")"
  ip netns list 2>/dev/null | grep -qw "$ns" && ip netns del "$ns"
fi
ip link show lo-node-h >/dev/null 2>&1 && ip link del lo-node-h
# 7. kubelet's container-log links that point into the node's directory.
for l in /var/log/containers/*.log; do
  [[ -L "$l" && "$(readlink "$l")" == "$dir/"* ]] && rm -f "$l"
done
# The shims' socket directory (a fixed path in containerd 1.6), if the node made it and left it empty.
rmdir /run/containerd/s /run/containerd 2>/dev/null
leftover=(/sys/fs/cgroup/*/$CGROUP_ROOT)
((${#leftover[@]} == 0)) || log "warning: cgroups left behind: ${leftover[*]}"
if [[ -z "${KEEP_CLUSTER:-}" ]]; then rm -rf "$dir"; else log "kept $dir (KEEP_CLUSTER)"; fi
exit 0
