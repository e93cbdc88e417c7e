#!/usr/bin/env bash
# tools/cluster/image.sh — OCI images for the test node, assembled without a daemon (umoci).
#
#   tools/cluster/image.sh operator BINARY   the project's image: BINARY as the Dockerfile's
#                                            runtime stage has it (glibc, CA certificates, user
#                                            65532, no shell); user, entrypoint and cmd are read
#                                            from the Dockerfile itself
#   tools/cluster/image.sh pause BIN_DIR     the sandbox image: BIN_DIR/pause (static)
#   tools/cluster/image.sh coredns BIN_DIR   cluster DNS: BIN_DIR/coredns (static)
#
# Prints `REF ARCHIVE` as the last line on stdout: the image reference and an OCI archive (tar
# of an OCI image layout, index annotated with the tag) that `ctr images import --base-name`
# imports. The tag is derived from the content, so a changed binary is a new image and an
# unchanged one is not rebuilt. Archives live in $LAUNCH_OPERATOR_CACHE/images.
#
# It does not import anything or start anything (tools/cluster/up.sh does), and it never
# writes into the repository.
set -euo pipefail
exec 3>&1 1>&2

LAUNCH_OPERATOR_CACHE="${LAUNCH_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/launch-operator}"
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RECIPE=1
OUT="$LAUNCH_OPERATOR_CACHE/images"

die() { printf '[image] ERROR: %s\n' "$*" >&2; exit 1; }
command -v umoci >/dev/null || die "umoci not found: apt-get install umoci"
[[ $# == 2 ]] || die "usage: $0 operator BINARY | pause BIN_DIR | coredns BIN_DIR"
kind="$1" src="$2"

# dockerfile_runtime KEY: the value of KEY (USER, ENTRYPOINT, CMD) in the Dockerfile's last stage.
dockerfile_runtime() {
  awk -v key="$1" '/^FROM /{ v = "" } $1 == key { $1 = ""; sub(/^ /, ""); v = $0 } END { print v }' "$REPO/Dockerfile"
}
# json_words '["a", "b"]' -> a NUL-separated list (exec-form instructions only).
json_words() {
  local s="$1"
  [[ "$s" == \[*\] ]] || die "the Dockerfile's runtime stage must use the exec (JSON) form, got: $s"
  s="${s#[}"; s="${s%]}"
  python3 -c 'import json,sys; [print(w) for w in json.loads("["+sys.argv[1]+"]")]' "$s"
}

# build NAME TAG ROOTFS_SETUP_FN CONFIG_ARGS...: the image NAME:TAG from a rootfs the function fills.
build() {
  local name="$1" tag="$2" setup="$3"; shift 3
  local archive="$OUT/$name-$tag.oci.tar"
  if [[ -f "$archive" ]]; then printf 'localhost/%s:%s %s\n' "$name" "$tag" "$archive" >&3; return; fi
  local work; work="$(mktemp -d "$OUT/.build.XXXXXX")"
  umoci init --layout "$work/layout"
  umoci new --image "$work/layout:$tag"
  umoci unpack --image "$work/layout:$tag" "$work/bundle" >/dev/null
  "$setup" "$work/bundle/rootfs"
  umoci repack --image "$work/layout:$tag" "$work/bundle"
  umoci config --image "$work/layout:$tag" --config.workingdir / "$@"
  umoci gc --layout "$work/layout"
  tar -C "$work/layout" -cf "$archive.tmp" .
  mv -f "$archive.tmp" "$archive"
  rm -rf "$work"
  printf 'localhost/%s:%s %s\n' "$name" "$tag" "$archive" >&3
}

# The parts of distroless cc-debian12:nonroot the binary relies on: the shared libraries it links
# (glibc, libgcc_s), CA certificates, /etc/passwd and /etc/group with nonroot (65532), a
# writable-by-all /tmp, and nothing else: no shell, no package manager.
operator_rootfs() {
  local root="$1" lib
  install -D -m 0755 "$BINARY" "$root/usr/local/bin/launch-operator"
  while read -r lib; do
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done < <(ldd "$BINARY" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  install -d -m 1777 "$root/tmp"
  install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
  install -d -m 0700 "$root/root"
}
static_rootfs() {
  install -D -m 0755 "$STATIC" "$1/$(basename "$STATIC")"
}

mkdir -p "$OUT"
case "$kind" in
  operator)
    BINARY="$(readlink -f "$src")"
    [[ -x "$BINARY" ]] || die "$src is not an executable (build it: cargo build --release --locked --bin launch-operator)"
    user="$(dockerfile_runtime USER)"
    mapfile -t entrypoint < <(json_words "$(dockerfile_runtime ENTRYPOINT)")
    mapfile -t cmd < <(json_words "$(dockerfile_runtime CMD)")
    [[ -n "$user" && ${#entrypoint[@]} -gt 0 ]] || die "no USER or ENTRYPOINT in the Dockerfile's runtime stage"
    # (ldd's load addresses are random, so only the library names and paths count.)
    tag="$( (sha256sum "$BINARY" | cut -c1-64; ldd "$BINARY" | awk '{ print $1, $3 }'; cat "$0"; printf '%s\n' "$user" "${entrypoint[@]}" "${cmd[@]}") | sha256sum | cut -c1-16)"
    # One project image is kept: the archives of earlier binaries go.
    for old in "$OUT"/launch-operator-e2e-*.oci.tar; do
      [[ -e "$old" && "$old" != "$OUT/launch-operator-e2e-$tag.oci.tar" ]] && rm -f "$old"
    done
    args=(--config.user "$user" --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" --config.env "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
    for w in "${entrypoint[@]}"; do args+=(--config.entrypoint "$w"); done
    for w in "${cmd[@]}"; do args+=(--config.cmd "$w"); done
    build launch-operator "e2e-$tag" operator_rootfs "${args[@]}"
    ;;
  pause|coredns)
    STATIC="$src/$kind"
    [[ -x "$STATIC" ]] || die "$STATIC missing: run tools/cluster/build.sh"
    tag="$( (sha256sum "$STATIC"; echo "$RECIPE") | sha256sum | cut -c1-16)"
    build "$kind" "lo-$tag" static_rootfs --config.entrypoint "/$kind"
    ;;
  *) die "unknown image kind '$kind'" ;;
esac
