#!/usr/bin/env bash
# tools/cluster/build.sh — build the node components of the single-node test cluster.
#
# WHAT IT DOES
#   Builds, into a per-version directory in a cache OUTSIDE the repository,
#
#     $LAUNCH_OPERATOR_CACHE/node-k8s-$K8S_VERSION-coredns-$COREDNS_VERSION/bin/
#       kube-controller-manager kube-scheduler kubelet kube-proxy kubectl   (k8s.io/kubernetes)
#       coredns                                                             (github.com/coredns/coredns)
#       pause                                                               (tools/cluster/pause.c)
#
#   and prints that bin directory as the last line on stdout (everything else goes to stderr).
#   - The Kubernetes binaries come from the same throwaway main module recipe as
#     tools/control-plane/build.sh (k8s.io/kubernetes@$K8S_VERSION, every staging module replaced
#     by its published v0.Y.Z tag) and share its GOMODCACHE/GOCACHE, so the packages they have in
#     common with kube-apiserver compile once. All five are compiled by one `go build`.
#   - CoreDNS is built from a small generated main package that links only the plugins the test
#     cluster's Corefile uses (errors, health, ready, kubernetes, cache, loop, reload): the stock
#     build links every cloud provider's SDK, which would triple the compile time.
#   - pause is the sandbox's init process: compiled statically from pause.c with the C compiler.
#   - Each binary has a stamp; a stamp hit with the wanted `--version` builds nothing.
#   - Concurrent runs are serialised with flock.
#
# WHAT IT DELIBERATELY DOES NOT DO
#   - No release downloads, nothing written into the repository, no toolchain switching.
#   - It installs no Debian packages (containerd, runc, CNI plugins, iptables, umoci): tools/test.sh
#     does that; tools/cluster/README.md lists them for `make cluster`.
#   - It starts nothing: tools/cluster/up.sh does (run by tests/e2e_node.rs and `make cluster`).
#
# INPUTS (environment): K8S_VERSION (v1.37.2), COREDNS_VERSION (v1.14.7), LAUNCH_OPERATOR_CACHE,
#   GO, CC (cc).
set -euo pipefail
exec 3>&1 1>&2

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.14.7}"
LAUNCH_OPERATOR_CACHE="${LAUNCH_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/launch-operator}"
CC="${CC:-cc}"
HERE="$(cd "$(dirname "$0")" && pwd)"
RECIPE=1

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

ROOT="$LAUNCH_OPERATOR_CACHE/node-k8s-$K8S_VERSION-coredns-$COREDNS_VERSION"
BIN="$ROOT/bin" STAMPS="$ROOT/stamps"
KUBE_CMDS=(kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
KUBE_KEY="k8s.io/kubernetes@$K8S_VERSION recipe=$RECIPE"
COREDNS_KEY="github.com/coredns/coredns@$COREDNS_VERSION recipe=$RECIPE"
PAUSE_KEY="pause $(sha256sum "$HERE/pause.c" | cut -c1-16) recipe=$RECIPE"

stamp_ok() { [[ -x "$BIN/$1" && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
kube_fresh() {
  local c
  for c in "${KUBE_CMDS[@]}"; do stamp_ok "$c" "$KUBE_KEY" || return 1; done
  [[ "$("$BIN/kubelet" --version 2>/dev/null)" == "Kubernetes $K8S_VERSION" ]]
}
coredns_fresh() { stamp_ok coredns "$COREDNS_KEY" && "$BIN/coredns" -version 2>/dev/null | grep -q "CoreDNS-${COREDNS_VERSION#v}"; }
pause_fresh() { stamp_ok pause "$PAUSE_KEY"; }
all_fresh() { kube_fresh && coredns_fresh && pause_fresh; }

if all_fresh; then log "cached node binaries are up to date in $BIN"; printf '%s\n' "$BIN" >&3; exit 0; fi

if [[ -z "${GO:-}" ]]; then
  GO="$(command -v go || true)"
  if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
fi
[[ -n "$GO" ]] || die "the 'go' command was not found; install Go >= 1.26 or set GO=/path/to/go"
command -v "$CC" >/dev/null || die "no C compiler ('$CC') for the pause binary; apt-get install gcc libc6-dev"

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOPATH="$LAUNCH_OPERATOR_CACHE/go/path" GOMODCACHE="$LAUNCH_OPERATOR_CACHE/go/mod" GOCACHE="$LAUNCH_OPERATOR_CACHE/go/build"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw -buildvcs=false"
unset GOWORK GOOS GOARCH || true

mkdir -p "$BIN" "$STAMPS" "$ROOT/logs" "$ROOT/src"
exec 9>"$ROOT/.lock"
flock -n 9 || { log "another build holds $ROOT/.lock; waiting for it"; flock 9; }
if all_fresh; then log "cached node binaries are up to date in $BIN"; printf '%s\n' "$BIN" >&3; exit 0; fi

# run_logged NAME LOGFILE CMD...: output to LOGFILE, a heartbeat a minute, the tail on failure.
run_logged() {
  local name="$1" logfile="$2"; shift 2
  local start=$SECONDS rc=0 hb
  ( exec 3>&- 9>&-; s=; trap 'kill $s 2>/dev/null; exit 0' TERM
    while :; do sleep 60 & s=$!; wait "$s"; log "  ... $name still running ($(( (SECONDS - start) / 60 )) min)"; done ) &
  hb=$!
  "$@" >>"$logfile" 2>&1 || rc=$?
  kill "$hb" 2>/dev/null || true; wait "$hb" 2>/dev/null || true
  if (( rc != 0 )); then
    printf '[cluster] ERROR: %s failed (exit %d). Last lines of %s:\n' "$name" "$rc" "$logfile" >&2
    tail -n 40 "$logfile" >&2; exit 1
  fi
  log "  $name took $(( SECONDS - start )) s"
}
gomod_of() { (cd "$ROOT/src" && "$GO" list -m -f '{{.GoMod}}' "$1") || die "could not fetch the go.mod of $1 through the module proxy"; }
gomod_go() { awk '$1 == "go" && NF == 2 { print $2; exit }' "$1"; }
gomod_godebug() {
  awk '$1 == "godebug" && $2 == "(" { b = 1; next } b && $1 == ")" { b = 0; next } b && NF { print $1; next }
       $1 == "godebug" && NF == 2 { print $2 }' "$1"
}
# new_module DIR NAME UPSTREAM_GOMOD: a fresh throwaway main module with upstream's go/godebug lines.
new_module() {
  local kv
  rm -rf "$1"; mkdir -p "$1"
  (cd "$1" && "$GO" mod init "$2" 2>/dev/null && "$GO" mod edit -go="$(gomod_go "$3")"
   while IFS= read -r kv; do [[ -z "$kv" ]] || "$GO" mod edit -godebug="$kv"; done < <(gomod_godebug "$3"))
}
TOTAL=$SECONDS

# --- Kubernetes node binaries (one go build) ------------------------------------------------------
if ! kube_fresh; then
  t=$SECONDS dir="$ROOT/src/kube"
  upstream="$(gomod_of "k8s.io/kubernetes@$K8S_VERSION")"
  mapfile -t staging < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// { print $1 }' "$upstream" | sort -u)
  (( ${#staging[@]} > 0 )) || die "found no staging replaces in $upstream"
  new_module "$dir" launch-operator.local/cluster/kube "$upstream"
  for m in "${staging[@]}"; do (cd "$dir" && "$GO" mod edit -replace="$m=$m@v0.${K8S_VERSION#v1.}"); done
  pkgs=() tools=()
  for c in "${KUBE_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); tools+=("k8s.io/kubernetes/cmd/$c@$K8S_VERSION"); done
  : >"$ROOT/logs/kube-resolve.log"
  (cd "$dir" && run_logged "go get (node binaries)" "$ROOT/logs/kube-resolve.log" "$GO" get -tool "${tools[@]}")
  # The same release flags and version stamps as tools/control-plane/build.sh.
  core="${K8S_VERSION#v}"; minor="${core#*.}"; minor="${minor%%.*}"
  build_date="$(cd "$dir" && "$GO" list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "k8s.io/kubernetes@$K8S_VERSION")"
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=archive -X $p.buildDate=$build_date -X $p.gitCommit="
  done
  out="$ROOT/.out.$$"; rm -rf "$out"; mkdir -p "$out"
  log "compiling ${KUBE_CMDS[*]} $K8S_VERSION (cold: ~10 min on 2 cores with kube-apiserver's packages cached)"
  : >"$ROOT/logs/kube-build.log"
  (cd "$dir" && run_logged "go build (node binaries)" "$ROOT/logs/kube-build.log" \
     "$GO" build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$out/" "${pkgs[@]}")
  [[ "$("$out/kubelet" --version)" == "Kubernetes $K8S_VERSION" ]] || die "built kubelet reports '$("$out/kubelet" --version)'"
  for c in "${KUBE_CMDS[@]}"; do rm -f "$STAMPS/$c"; mv -f "$out/$c" "$BIN/$c"; printf '%s\n' "$KUBE_KEY" >"$STAMPS/$c"; done
  rm -rf "$out"
  log "Kubernetes node binaries built in $(( SECONDS - t )) s"
fi

# --- CoreDNS with the plugins the cluster uses ----------------------------------------------------
if ! coredns_fresh; then
  t=$SECONDS dir="$ROOT/src/coredns"
  upstream="$(gomod_of "github.com/coredns/coredns@$COREDNS_VERSION")"
  new_module "$dir" launch-operator.local/cluster/coredns "$upstream"
  # The directive order is CoreDNS's own (core/dnsserver/zdirectives.go), cut to these plugins.
  cat >"$dir/main.go" <<'GO'
// Generated by tools/cluster/build.sh: CoreDNS with only the plugins the test cluster uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func init() {
	dnsserver.Directives = []string{"reload", "ready", "health", "errors", "log", "cache", "kubernetes", "loop"}
}

func main() { coremain.Run() }
GO
  : >"$ROOT/logs/coredns-resolve.log"
  (cd "$dir" && run_logged "go get (coredns)" "$ROOT/logs/coredns-resolve.log" "$GO" get "github.com/coredns/coredns@$COREDNS_VERSION" \
     && run_logged "go mod tidy (coredns)" "$ROOT/logs/coredns-resolve.log" "$GO" mod tidy)
  : >"$ROOT/logs/coredns-build.log"
  (cd "$dir" && run_logged "go build (coredns)" "$ROOT/logs/coredns-build.log" \
     "$GO" build -trimpath -ldflags "-s -w" -o "$ROOT/.coredns.$$" .)
  rm -f "$STAMPS/coredns"; mv -f "$ROOT/.coredns.$$" "$BIN/coredns"
  "$BIN/coredns" -version | grep -q "CoreDNS-${COREDNS_VERSION#v}" || die "built coredns reports '$("$BIN/coredns" -version)'"
  printf '%s\n' "$COREDNS_KEY" >"$STAMPS/coredns"
  log "CoreDNS built in $(( SECONDS - t )) s"
fi

# --- pause ----------------------------------------------------------------------------------------
if ! pause_fresh; then
  rm -f "$STAMPS/pause"
  "$CC" -Os -static -o "$ROOT/.pause.$$" "$HERE/pause.c" || die "compiling pause.c failed (needs a C compiler and static libc: apt-get install gcc libc6-dev)"
  strip "$ROOT/.pause.$$" 2>/dev/null || true
  mv -f "$ROOT/.pause.$$" "$BIN/pause"
  printf '%s\n' "$PAUSE_KEY" >"$STAMPS/pause"
fi

log "done in $(( SECONDS - TOTAL )) s: $(du -sh "$BIN" | cut -f1) in $BIN"
printf '%s\n' "$BIN" >&3
