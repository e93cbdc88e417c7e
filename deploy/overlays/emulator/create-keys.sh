#!/usr/bin/env bash
# Creates (or keeps) the access keys of the in-cluster emulator, before
# `kubectl apply -k deploy/overlays/emulator`:
#   - launch-operator/launch-operator-evidently-key: the controller's key (evidently:*);
#   - launch-operator/evidently-emulator-keys: the emulator's key file (keys.yaml), holding the
#     controller's key and an example data-plane-only key for applications;
#   - <APP_NAMESPACE>/evidently-app-key (optional, first argument): that data-plane key for an
#     application namespace (evaluate features and send events in any project, nothing else).
# Existing Secrets are left as they are (delete them to rotate; the emulator reloads its key
# file without a restart, the controller restarts to pick up its new key).
set -euo pipefail
app_ns="${1:-}"
random() { head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
kubectl create namespace launch-operator --dry-run=client -o yaml | kubectl apply -f - >/dev/null
if kubectl -n launch-operator get secret evidently-emulator-keys >/dev/null 2>&1; then
  echo "launch-operator/evidently-emulator-keys exists; left as it is"
  exit 0
fi
ctl_id="AKIA$(random 16 | tr a-z A-Z)"; ctl_secret="$(random 40)"
app_id="AKIA$(random 16 | tr a-z A-Z)"; app_secret="$(random 40)"
keys="$(mktemp)"; trap 'rm -f "$keys"' EXIT
cat >"$keys" <<KEYS
keys:
  - name: launch-operator
    accessKeyId: $ctl_id
    secretAccessKey: $ctl_secret
    allow: ["evidently:*"]
  - name: applications
    accessKeyId: $app_id
    secretAccessKey: $app_secret
    allow: ["evidently:EvaluateFeature", "evidently:BatchEvaluateFeature", "evidently:PutProjectEvents"]
KEYS
kubectl -n launch-operator create secret generic evidently-emulator-keys --from-file=keys.yaml="$keys"
kubectl -n launch-operator create secret generic launch-operator-evidently-key \
  --from-literal=accessKeyId="$ctl_id" --from-literal=secretAccessKey="$ctl_secret"
if [[ -n "$app_ns" ]]; then
  kubectl -n "$app_ns" create secret generic evidently-app-key \
    --from-literal=AWS_ACCESS_KEY_ID="$app_id" --from-literal=AWS_SECRET_ACCESS_KEY="$app_secret"
  kubectl label namespace "$app_ns" evidently.launch-operator.io/client=true --overwrite
fi
echo "created the emulator's keys (controller and applications)"
