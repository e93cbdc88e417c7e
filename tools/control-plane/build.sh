#!/usr/bin/env bash
# tools/control-plane/build.sh — build a real kube-apiserver and etcd for end-to-end tests.
#
# WHAT IT DOES
#   Builds `kube-apiserver` (from the Go module k8s.io/kubernetes) and `etcd` (from the Go
#   module go.etcd.io/etcd/server/v3) with the stock `go` command and the Go module proxy,
#   into a per-version directory in a cache OUTSIDE the repository:
#
#     $LAUNCH_OPERATOR_CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin/{kube-apiserver,etcd,kubectl}
#
#   The last line on stdout is that bin directory, everything else goes to stderr, so
#
#     KUBEBUILDER_ASSETS=$(tools/control-plane/build.sh)
#
#   works. The directory follows the envtest/KUBEBUILDER_ASSETS convention (files named
#   exactly kube-apiserver, etcd, kubectl).
#
#   - If KUBEBUILDER_ASSETS is already set and holds executable kube-apiserver and etcd, the
#     script builds nothing and just prints that directory.
#   - If the cached binaries exist, their stamp matches and `--version` reports the wanted
#     versions, it builds nothing (takes well under a second).
#   - Otherwise it generates a throwaway main module in the cache (never in the repo) that
#     requires k8s.io/kubernetes@$K8S_VERSION and replaces every staging module (k8s.io/api,
#     k8s.io/apiserver, ...) with its published v0.Y.Z tag. The staging list and the `go` and
#     `godebug` lines are taken from upstream's own go.mod, fetched offline through the module
#     proxy (`go list -m -json k8s.io/kubernetes@$K8S_VERSION` -> GoMod). It then builds
#     k8s.io/kubernetes/cmd/kube-apiserver the way upstream's hack/lib/golang.sh does for a
#     release (static, -trimpath, -s -w, version -X flags). etcd is built from a second
#     throwaway module (etcd's release tags require real versions, so no replaces are needed).
#   - Binaries are written atomically (temporary name, then mv), then a per-binary stamp.
#   - Concurrent runs are serialised with flock on a lock file in the cache.
#
# WHAT IT DELIBERATELY DOES NOT DO
#   - It never downloads release binaries (dl.k8s.io, GitHub releases, ...): only Go modules.
#   - It never writes into the repository: no binaries, no go.mod/go.sum, no module or build
#     cache. GOMODCACHE/GOCACHE/GOPATH live under $LAUNCH_OPERATOR_CACHE/go.
#   - It does not switch Go toolchains (GOTOOLCHAIN=local): a too-old Go is a loud error.
#   - It does not build kubectl by default: it symlinks the kubectl on PATH if there is one
#     (LAUNCH_OPERATOR_KUBECTL=link, the default), or builds it from the same module with
#     LAUNCH_OPERATOR_KUBECTL=build, or leaves it out with LAUNCH_OPERATOR_KUBECTL=skip.
#   - It does not start anything, generate certificates or run tests: that is the Rust
#     harness's job (see tools/control-plane/README.md for the flags it must pass).
#   - It does not clean old cache directories; delete $LAUNCH_OPERATOR_CACHE to reclaim space.
#
# INPUTS (environment)
#   K8S_VERSION            default v1.37.2, the newest supported version (README, "Supported
#                          Kubernetes versions"); every version from v1.30 on builds with Go 1.26
#                          (v1.37.2's go.mod says go 1.26.0, so no newer toolchain is needed)
#   ETCD_VERSION           default v3.6.16
#   LAUNCH_OPERATOR_CACHE  default ${XDG_CACHE_HOME:-$HOME/.cache}/launch-operator
#   LAUNCH_OPERATOR_KUBECTL link | build | skip   (default link)
#   GO                     the go command to use (default: `go` on PATH, else /usr/local/go/bin/go)
#   KUBEBUILDER_ASSETS     if it holds kube-apiserver and etcd, use it as is
set -euo pipefail

# Everything this script prints goes to stderr; fd 3 is the real stdout and receives only the
# final bin-dir line.
exec 3>&1 1>&2

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
LAUNCH_OPERATOR_CACHE="${LAUNCH_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/launch-operator}"
KUBECTL_MODE="${LAUNCH_OPERATOR_KUBECTL:-link}"

# Bump when the way the binaries are built changes (flags, tags, ...): it invalidates stamps.
RECIPE=1

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { printf '[control-plane] ERROR: %s\n' "$*" >&2; exit 1; }
done_with() { printf '%s\n' "$1" >&3; exit 0; }

case "$K8S_VERSION" in v1.*) ;; *) die "K8S_VERSION must look like v1.Y.Z, got '$K8S_VERSION'";; esac
case "$ETCD_VERSION" in v3.*) ;; *) die "ETCD_VERSION must look like v3.Y.Z, got '$ETCD_VERSION'";; esac
case "$KUBECTL_MODE" in link|build|skip) ;; *) die "LAUNCH_OPERATOR_KUBECTL must be link, build or skip";; esac

# --- 1. An existing KUBEBUILDER_ASSETS wins --------------------------------------------------
if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS as is (nothing built)"
  done_with "$KUBEBUILDER_ASSETS"
fi

ROOT="$LAUNCH_OPERATOR_CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
BIN="$ROOT/bin"
STAMPS="$ROOT/stamps"

APISERVER_KEY="kube-apiserver k8s.io/kubernetes@$K8S_VERSION recipe=$RECIPE"
ETCD_KEY="etcd go.etcd.io/etcd/server/v3@$ETCD_VERSION recipe=$RECIPE"

# A binary is fresh if its stamp holds the expected key and it reports the wanted version.
apiserver_fresh() {
  [[ -x "$BIN/kube-apiserver" && -f "$STAMPS/kube-apiserver" ]] || return 1
  [[ "$(cat "$STAMPS/kube-apiserver")" == "$APISERVER_KEY" ]] || return 1
  [[ "$("$BIN/kube-apiserver" --version 2>/dev/null)" == "Kubernetes $K8S_VERSION" ]]
}
etcd_fresh() {
  [[ -x "$BIN/etcd" && -f "$STAMPS/etcd" ]] || return 1
  [[ "$(cat "$STAMPS/etcd")" == "$ETCD_KEY" ]] || return 1
  etcd_version_ok "$BIN/etcd"
}
# etcd_version_ok BINARY: it prints "etcd Version: X.Y.Z" for the wanted version. (Captured
# first, not piped into grep -q, which could SIGPIPE etcd and trip pipefail.)
etcd_version_ok() {
  local out
  out="$("$1" --version 2>/dev/null)" || return 1
  grep -qx "etcd Version: ${ETCD_VERSION#v}" <<<"$out"
}
kubectl_fresh() {
  case "$KUBECTL_MODE" in
    skip) return 0 ;;
    link) return 0 ;;   # link_kubectl is cheap and needs no Go, so it is simply always run
    build) [[ -x "$BIN/kubectl" && -f "$STAMPS/kubectl" \
              && "$(cat "$STAMPS/kubectl")" == "kubectl k8s.io/kubernetes@$K8S_VERSION recipe=$RECIPE" ]] ;;
  esac
}

# link_kubectl: in link mode, symlink the kubectl on PATH (if any) into BIN, once.
link_kubectl() {
  local k
  [[ "$KUBECTL_MODE" == link && ! -e "$BIN/kubectl" ]] || return 0
  k="$(command -v kubectl 2>/dev/null)" || return 0
  mkdir -p "$BIN"
  ln -sfn "$k" "$BIN/kubectl"
  log "kubectl: symlinked $k (its version is not checked against $K8S_VERSION)"
}

# --- 2. Stamp hit: nothing to do -------------------------------------------------------------
if apiserver_fresh && etcd_fresh && kubectl_fresh; then
  link_kubectl
  log "cached binaries are up to date in $BIN"
  done_with "$BIN"
fi

# --- 3. Build --------------------------------------------------------------------------------
if [[ -z "${GO:-}" ]]; then
  GO="$(command -v go || true)"
  if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
fi
if [[ -z "$GO" ]] || ! command -v "$GO" >/dev/null 2>&1; then
  die "the 'go' command was not found (GO=${GO:-unset}). Install Go >= 1.26 (e.g. into /usr/local/go) and put it on PATH, or set GO=/path/to/go."
fi

# Go environment: everything in the cache, no toolchain switching, static binaries.
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOPATH="$LAUNCH_OPERATOR_CACHE/go/path"
export GOMODCACHE="$LAUNCH_OPERATOR_CACHE/go/mod"
export GOCACHE="$LAUNCH_OPERATOR_CACHE/go/build"
# -modcacherw: keep the module cache deletable with plain `rm -rf`; -buildvcs=false: the
# throwaway modules have no VCS (and must not pick up one from a parent directory).
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw -buildvcs=false"
unset GOWORK GOOS GOARCH || true   # a stray workspace or cross-compile setting must not leak in

GO_VERSION="$("$GO" env GOVERSION 2>/dev/null)" || die "'$GO env GOVERSION' failed; install Go >= 1.26."
GO_VERSION="${GO_VERSION#go}"

mkdir -p "$BIN" "$STAMPS" "$ROOT/logs" "$ROOT/src" "$GOPATH" "$GOMODCACHE" "$GOCACHE"

# Serialise concurrent runs (e.g. several test binaries calling this at once).
exec 9>"$ROOT/.lock"
if ! flock -n 9; then
  log "another build holds $ROOT/.lock; waiting for it"
  flock 9
fi
# Re-check after taking the lock: the other run may have built everything.
if apiserver_fresh && etcd_fresh && kubectl_fresh; then
  link_kubectl
  log "cached binaries are up to date in $BIN"
  done_with "$BIN"
fi

# Compare dotted versions: version_ge A B  <=>  A >= B.
version_ge() { [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$2" ]]; }

# run_logged NAME LOGFILE CMD...: run CMD with its output in LOGFILE; print a heartbeat every
# minute so CI logs show progress; on failure show the tail of the log and abort.
run_logged() {
  local name="$1" logfile="$2"; shift 2
  local start=$SECONDS rc=0 hb
  # The heartbeat closes fd 3 (our stdout, maybe a $(...) pipe) and fd 9 (the lock) so it can
  # never hold them, and kills its own sleep when told to stop.
  ( exec 3>&- 9>&-
    s=
    trap 'kill $s 2>/dev/null; exit 0' TERM
    while :; do
      sleep 60 & s=$!
      wait "$s"
      log "  ... $name still running ($(( (SECONDS - start) / 60 )) min)"
    done ) &
  hb=$!
  "$@" >>"$logfile" 2>&1 || rc=$?
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  if (( rc != 0 )); then
    printf '[control-plane] ERROR: %s failed (exit %d). Last lines of %s:\n' "$name" "$rc" "$logfile" >&2
    tail -n 40 "$logfile" >&2
    exit 1
  fi
  log "  $name took $(( SECONDS - start )) s"
}

# upstream_gomod MODULE@VERSION: path of that version's go.mod in the module cache (only the
# small .mod file is downloaded).
upstream_gomod() {
  local mod_path
  mod_path="$(cd "$ROOT/src" && "$GO" list -m -f '{{.GoMod}}' "$1")" \
    || die "could not fetch the go.mod of $1 through the module proxy (is GOPROXY reachable and does it serve $1?)"
  [[ -f "$mod_path" ]] || die "go list returned no go.mod for $1"
  printf '%s\n' "$mod_path"
}
# gomod_go FILE: its `go` line's version.
gomod_go() { awk '$1 == "go" && NF == 2 { print $2; exit }' "$1"; }
# gomod_godebug FILE: its godebug settings, one key=value per line (single-line and block form).
gomod_godebug() {
  awk '
    $1 == "godebug" && $2 == "(" { inblock = 1; next }
    inblock && $1 == ")"         { inblock = 0; next }
    inblock && NF                { print $1; next }
    $1 == "godebug" && NF == 2   { print $2 }
  ' "$1"
}

# new_module DIR NAME UPSTREAM_GOMOD WHAT: fresh throwaway main module with upstream's
# go/godebug lines (WHAT names the upstream module@version in messages).
new_module() {
  local dir="$1" name="$2" upstream="$3" what="$4" want_go kv
  want_go="$(gomod_go "$upstream")"
  [[ -n "$want_go" ]] || die "no 'go' line in $upstream"
  version_ge "$GO_VERSION" "$want_go" \
    || die "Go $GO_VERSION is too old: $what needs go >= $want_go. Install Go >= $want_go (GOTOOLCHAIN=local is set on purpose)."
  rm -rf "$dir"
  mkdir -p "$dir"
  ( cd "$dir"
    "$GO" mod init "$name" 2>/dev/null
    "$GO" mod edit -go="$want_go"
    while IFS= read -r kv; do
      if [[ -n "$kv" ]]; then "$GO" mod edit -godebug="$kv"; fi
    done < <(gomod_godebug "$upstream")
  )
}

# kube_ldflags: what upstream's hack/lib/version.sh stamps into a release build, so that
# `kube-apiserver --version` and GET /version report the real version (and the emulation /
# compatibility version is derived from it, not from a fallback constant).
kube_ldflags() {
  local ver="$K8S_VERSION" core major minor build_date flags="-s -w" pkg
  core="${ver#v}"; core="${core%%[-+]*}"
  major="${core%%.*}"; minor="${core#*.}"; minor="${minor%%.*}"
  [[ "$ver" == *-* ]] && minor="$minor+"   # upstream marks pre-releases as e.g. "37+"
  # Reproducible build date: the module version's commit time from the proxy.
  build_date="$(cd "$ROOT/src" && "$GO" list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "k8s.io/kubernetes@$ver")"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$ver -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$build_date"
    # gitCommit is unknown offline (the proxy's .info has no commit hash), so it stays empty.
    flags+=" -X $pkg.gitCommit="
  done
  printf '%s\n' "$flags"
}

# go_build_atomic LOGNAME OUT PKG LDFLAGS TAGS VERSION_ARGS: build PKG to a temporary file next
# to OUT, check that `TMP VERSION_ARGS` runs, then rename it into place (so OUT is never a
# half-written file, even if the build is interrupted).
go_build_atomic() {
  local name="$1" out="$2" pkg="$3" ldflags="$4" tags="$5" version_args="$6" tmp
  tmp="$(dirname "$out")/.$(basename "$out").tmp.$$"
  rm -f "$tmp"
  run_logged "go build $name" "$ROOT/logs/$name.log" \
    "$GO" build -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$tmp" "$pkg"
  # shellcheck disable=SC2086  # VERSION_ARGS is deliberately word-split
  "$tmp" $version_args >/dev/null 2>&1 \
    || { rm -f "$tmp"; die "freshly built $name does not run ('$tmp $version_args' failed)"; }
  mv -f "$tmp" "$out"
}

TOTAL_START=$SECONDS
log "building into $BIN (go $GO_VERSION, cache $LAUNCH_OPERATOR_CACHE/go)"

# --- 3a. kube-apiserver (and optionally kubectl) ----------------------------------------------
# build_kube WANT_APISERVER WANT_KUBECTL (yes|no each)
build_kube() {
  local want_apiserver="$1" want_kubectl="$2" dir="$ROOT/src/apiserver" upstream staging_ver m staging=()
  local logf="$ROOT/logs/kube-apiserver-resolve.log"
  : >"$logf"
  log "k8s.io/kubernetes $K8S_VERSION: reading upstream go.mod through the module proxy"
  upstream="$(upstream_gomod "k8s.io/kubernetes@$K8S_VERSION")"
  # Every `k8s.io/X => ./staging/src/k8s.io/X` replace in upstream's go.mod is a staging module.
  mapfile -t staging < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// { print $1 }' "$upstream" | sort -u)
  (( ${#staging[@]} > 0 )) || die "found no staging replaces in $upstream"
  staging_ver="v0.${K8S_VERSION#v1.}"   # k8s v1.Y.Z <=> staging modules v0.Y.Z
  log "  ${#staging[@]} staging modules, pinned to $staging_ver"

  new_module "$dir" "launch-operator.local/control-plane/apiserver" "$upstream" "k8s.io/kubernetes@$K8S_VERSION"
  for m in "${staging[@]}"; do
    (cd "$dir" && "$GO" mod edit -replace="$m=$m@$staging_ver")
  done
  local tools=("k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION")
  if [[ "$want_kubectl" == yes ]]; then tools+=("k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION"); fi
  log "  resolving and downloading modules (log: $logf)"
  (cd "$dir" && run_logged "go get (kube-apiserver)" "$logf" "$GO" get -tool "${tools[@]}")

  local ldflags
  ldflags="$(kube_ldflags)"
  # Upstream release builds use these tags (hack/lib/golang.sh); none changes behaviour that
  # matters for a test apiserver, but matching them keeps the binary close to the real one.
  local tags="selinux,notest,grpcnotrace"
  if [[ "$want_apiserver" == yes ]]; then
    log "  compiling k8s.io/kubernetes/cmd/kube-apiserver (cold: ~6 min on 2 cores)"
    rm -f "$STAMPS/kube-apiserver"
    (cd "$dir" && go_build_atomic kube-apiserver "$BIN/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$ldflags" "$tags" --version)
    [[ "$("$BIN/kube-apiserver" --version)" == "Kubernetes $K8S_VERSION" ]] \
      || die "built kube-apiserver reports '$("$BIN/kube-apiserver" --version)', expected 'Kubernetes $K8S_VERSION'"
    printf '%s\n' "$APISERVER_KEY" >"$STAMPS/kube-apiserver"
  fi

  if [[ "$want_kubectl" == yes ]]; then
    log "  compiling k8s.io/kubernetes/cmd/kubectl"
    rm -f "$STAMPS/kubectl"
    (cd "$dir" && go_build_atomic kubectl "$BIN/kubectl" k8s.io/kubernetes/cmd/kubectl "$ldflags" "$tags" "version --client")
    printf 'kubectl k8s.io/kubernetes@%s recipe=%s\n' "$K8S_VERSION" "$RECIPE" >"$STAMPS/kubectl"
  fi
}

# --- 3b. etcd ----------------------------------------------------------------------------------
build_etcd() {
  local dir="$ROOT/src/etcd" upstream logf="$ROOT/logs/etcd-resolve.log"
  : >"$logf"
  log "etcd $ETCD_VERSION: reading upstream go.mod through the module proxy"
  upstream="$(upstream_gomod "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
  # etcd's own replaces point at sibling directories, but its release tags require the
  # matching published versions (api/client/pkg @ the same tag), so no replaces are needed.
  new_module "$dir" "launch-operator.local/control-plane/etcd" "$upstream" "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  log "  resolving and downloading modules (log: $logf)"
  (cd "$dir" && run_logged "go get (etcd)" "$logf" "$GO" get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  log "  compiling go.etcd.io/etcd/server/v3"
  rm -f "$STAMPS/etcd"
  # The etcd version is a constant in go.etcd.io/etcd/api/v3/version; only GitSHA is an -X
  # variable upstream, and no commit hash is known offline, so it keeps its default text.
  (cd "$dir" && go_build_atomic etcd "$BIN/etcd" go.etcd.io/etcd/server/v3 "-s -w" "" --version)
  etcd_version_ok "$BIN/etcd" \
    || die "built etcd reports '$("$BIN/etcd" --version | head -n1)', expected 'etcd Version: ${ETCD_VERSION#v}'"
  printf '%s\n' "$ETCD_KEY" >"$STAMPS/etcd"
}

# etcd first: it is quick, so a broken proxy or Go setup shows up early.
if etcd_fresh; then log "etcd $ETCD_VERSION: up to date"; else
  t=$SECONDS; build_etcd; log "etcd $ETCD_VERSION: built in $(( SECONDS - t )) s"
fi

need_apiserver=yes need_kubectl=no
if apiserver_fresh; then need_apiserver=no; log "kube-apiserver $K8S_VERSION: up to date"; fi
if [[ "$KUBECTL_MODE" == build ]] && ! kubectl_fresh; then need_kubectl=yes; fi
if [[ "$need_apiserver" == yes || "$need_kubectl" == yes ]]; then
  t=$SECONDS; build_kube "$need_apiserver" "$need_kubectl"
  log "k8s.io/kubernetes $K8S_VERSION binaries built in $(( SECONDS - t )) s"
fi

# --- 3c. kubectl as a symlink to the one on PATH ----------------------------------------------
link_kubectl

log "done in $(( SECONDS - TOTAL_START )) s: $(du -sh "$BIN" 2>/dev/null | cut -f1) in $BIN"
done_with "$BIN"
