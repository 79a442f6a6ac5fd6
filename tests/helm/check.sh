#!/usr/bin/env bash
# Checks the Helm chart helm/credence:
#   1. builds the real helm (pinned) with the machine's Go from the Go module proxy, cached;
#   2. `helm lint --strict` with each values file of helm/credence/ci/;
#   3. `helm template` of each, with the optional APIs announced so the gated parts render;
#   4. validates every rendered resource against the Kubernetes JSON schemas (kubernetes-validate,
#      strict) of the oldest (the chart's kubeVersion) and newest Kubernetes it knows, and the
#      custom resources (ServiceMonitor, PodMonitor, PrometheusRule, ScaledObject,
#      TriggerAuthentication) against the OpenAPI schemas of their CRDs, made strict;
#   5. checks that unknown values keys (typos) and the render-time `fail`s stop lint and template;
#   6. runs `credence check-config` on each rendered credence.toml, with the container's
#      environment (secrets replaced by dummies), and round-trips credence.example.toml;
#   7. checks the invariants: hardened security context, probes, ports, secrets by reference,
#      the checksum annotation following the configuration and nothing else.
# Caches under ${CREDENCE_CACHE:-~/.cache/credence}/helm. The credence binary: $CREDENCE_BIN, or
# `cargo build --bin credence` (a no-op when target/debug/credence is fresh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
chart=helm/credence
here=tests/helm

HELM_VERSION=v3.22.0
KUBERNETES_VALIDATE_VERSION=1.37.0
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest that
# kubernetes-validate $KUBERNETES_VALIDATE_VERSION has schemas for.
K8S_VERSIONS=1.25.0,1.37.0
# Where the CRDs come from (Go modules, through the module proxy).
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.85.0
KEDA=github.com/kedacore/keda/v2@v2.21.0

cache=${CREDENCE_CACHE:-$HOME/.cache/credence}/helm
helm_dir=$cache/$HELM_VERSION
helm=$helm_dir/bin/helm
venv=$cache/venv-kubernetes-validate-$KUBERNETES_VALIDATE_VERSION
crds=$cache/crds
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# helm keeps its own config and caches under these; keep them out of $HOME.
export HELM_CACHE_HOME=$work/helm-cache HELM_CONFIG_HOME=$work/helm-config HELM_DATA_HOME=$work/helm-data

step() { printf '\n==> %s\n' "$*"; }
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
declare -a summary=()

go_env() {
  env GOPATH="$helm_dir/gopath" GOMODCACHE="$helm_dir/gopath/pkg/mod" GOCACHE="$helm_dir/gocache" \
    GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 "$@"
}

step "helm $HELM_VERSION"
if [ ! -x "$helm" ]; then
  command -v go >/dev/null || { echo "go not found: it builds helm" >&2; exit 1; }
  start=$(date +%s)
  mkdir -p "$helm_dir"
  # The release build's ldflags: the version, and the Kubernetes version that `helm template` and
  # the lint deprecation checks assume (1.(client-go minor)), which `go install` alone leaves at 1.20.
  gomod=$(cd "$work" && go_env go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["GoMod"])')
  client_go=$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$gomod")
  k8s_minor=$(echo "$client_go" | cut -d. -f2)
  [ -n "$k8s_minor" ] || { echo "cannot read the k8s.io/client-go version from $gomod" >&2; exit 1; }
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  (cd "$work" && go_env GOBIN="$helm_dir/bin.tmp" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  mv "$helm_dir/bin.tmp" "$helm_dir/bin"
  # Only the binary is needed from now on.
  go_env go clean -cache -modcache
  rm -rf "$helm_dir/gopath" "$helm_dir/gocache"
  echo "built $helm in $(($(date +%s) - start)) s (Kubernetes 1.$k8s_minor defaults, client-go $client_go)"
fi
"$helm" version --short | grep -qx "$HELM_VERSION" || { echo "$helm is not $HELM_VERSION" >&2; exit 1; }
"$helm" version --short

step "kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian ships venv separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$venv"
      python3 -m venv "$venv"
    else
      echo "python3 -m venv failed: install python3-venv" >&2
      exit 1
    fi
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
py=$venv/bin/python
"$venv/bin/kubernetes-validate" --version

step "CRD schemas"
mkdir -p "$crds"
if [ ! -f "$crds/.done" ]; then
  for module in "$PROMETHEUS_OPERATOR" "$KEDA"; do
    dir=$(cd "$work" && go_env GOMODCACHE="$work/gomod" go mod download -json "$module" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    case $module in
      *prometheus-operator*)
        for k in servicemonitors podmonitors prometheusrules; do
          cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$k.yaml" "$crds/"
        done ;;
      *keda*)
        for k in scaledobjects triggerauthentications; do
          cp "$dir/config/crd/bases/keda.sh_$k.yaml" "$crds/"
        done ;;
    esac
  done
  chmod -R u+w "$work/gomod" && rm -rf "$work/gomod"
  echo "$PROMETHEUS_OPERATOR $KEDA" >"$crds/.done"
fi
for f in "$crds"/*.yaml; do echo "  ${f##*/}"; done

step "credence binary"
if [ -n "${CREDENCE_BIN:-}" ]; then
  credence=$CREDENCE_BIN
else
  cargo build --locked --quiet --bin credence
  credence=$root/target/debug/credence
fi
"$credence" --version

step "chart metadata"
crate_version=$(awk -F'"' '/^\[workspace.package\]/ { p = 1 } p && /^version *=/ { print $2; exit }' Cargo.toml)
app_version=$(awk -F'"' '/^appVersion:/ { print $2 }' "$chart/Chart.yaml")
if [ "$crate_version" = "$app_version" ]; then ok "Chart.yaml appVersion $app_version = the crate version"
else bad "Chart.yaml appVersion $app_version != the crate version $crate_version"; fi
if "$py" "$here/chart_checks.py" documented "$chart/values.yaml" "$chart/values.schema.json" "$chart/README.md" \
  >"$work/documented.log"; then
  ok "$(cat "$work/documented.log")"
else
  bad "values.yaml and values.schema.json disagree:"; cat "$work/documented.log"
fi

# The optional parts' APIs, announced as a cluster with them would.
api=(--api-versions monitoring.coreos.com/v1 --api-versions monitoring.coreos.com/v1/ServiceMonitor
  --api-versions monitoring.coreos.com/v1/PodMonitor --api-versions monitoring.coreos.com/v1/PrometheusRule
  --api-versions keda.sh/v1alpha1 --api-versions keda.sh/v1alpha1/ScaledObject
  --api-versions keda.sh/v1alpha1/TriggerAuthentication)

# One values file: lint, template, validate, invariants, check-config.
run_case() {
  local name=$1
  shift
  local out=$work/$name
  mkdir -p "$out"
  if "$helm" lint --strict --quiet "$chart" "$@" >"$out/lint.log" 2>&1; then ok "$name: helm lint --strict"
  else bad "$name: helm lint --strict"; cat "$out/lint.log"; fi
  for k in ${K8S_VERSIONS//,/ }; do
    if "$helm" template credence "$chart" --namespace credence --kube-version "$k" "${api[@]}" "$@" \
      >"$out/manifest-$k.yaml" 2>"$out/template.log"; then ok "$name: helm template (Kubernetes $k)"
    else bad "$name: helm template (Kubernetes $k)"; cat "$out/template.log"; return; fi
  done
  local values=() a
  for a in "$@"; do [ "$a" = -f ] || values+=("$a"); done
  local files
  files=$(IFS=,; echo "$chart/values.yaml,${values[*]}")
  local manifests=() k
  for k in ${K8S_VERSIONS//,/ }; do manifests+=("$k=$out/manifest-$k.yaml"); done
  if "$py" "$here/chart_checks.py" case --manifests "$(IFS=,; echo "${manifests[*]}")" --values "$files" \
    --crds "$crds" --out "$out" --rules "$chart/files/rules/credence.rules.yaml" \
    --dashboard "$dashboard" >"$out/checks.log" 2>&1; then
    ok "$name: schemas and invariants"
  else
    bad "$name: schemas and invariants"; grep -v '^{' "$out/checks.log" || true
  fi
  local stats
  stats=$(tail -n 1 "$out/checks.log")
  if [ -f "$out/credence.toml" ]; then
    local envs=()
    mapfile -t envs <"$out/env"
    if env -i PATH="$PATH" "${envs[@]}" "$credence" check-config "$out/credence.toml" >"$out/check-config.log" 2>&1; then
      ok "$name: credence check-config: $(cut -d: -f2- "$out/check-config.log")"
      stats+=" check-config OK"
    else
      bad "$name: credence check-config"; cat "$out/check-config.log"; stats+=" check-config FAILED"
    fi
  fi
  summary+=("$name $stats")
}

# The chart ships these two; the PrometheusRule and dashboard templates load them.
dashboard=$chart/files/dashboards/credence.json
for f in "$dashboard" "$chart/files/rules/credence.rules.yaml"; do
  [ -f "$f" ] || { echo "missing $f" >&2; exit 1; }
done

step "lint, template, validate, check-config"
for f in "$chart"/ci/*-values.yaml; do
  run_case "$(basename "$f" .yaml)" -f "$f"
done
"$py" "$here/chart_checks.py" example-values credence.example.toml >"$work/example-values.yaml"
run_case example-config -f "$work/example-values.yaml"
run_case toml-edge-cases -f "$chart/ci/minimal-values.yaml" -f "$here/toml-edge-values.yaml"
# The values of the chart README's install example (its first yaml block).
awk '/^ *```yaml$/ && !done { on = 1; next } on && /^ *```$/ { on = 0; done = 1 } on' "$chart/README.md" \
  | sed 's/^   //' >"$work/readme-values.yaml"
run_case readme-example -f "$work/readme-values.yaml"

step "the TOML renderer"
for c in example-config:"$work/example-values.yaml" \
         toml-edge-cases:"$chart/ci/minimal-values.yaml $here/toml-edge-values.yaml" \
         all-on-values:"$chart/ci/all-on-values.yaml"; do
  name=${c%%:*}
  # shellcheck disable=SC2086
  if "$py" "$here/chart_checks.py" compare-toml "$work/$name/credence.toml" ${c#*:} >"$work/$name/compare.log" 2>&1; then
    ok "$name: $(cat "$work/$name/compare.log")"
  else
    bad "$name: rendered TOML"; cat "$work/$name/compare.log"
  fi
done

step "runbook links"
# prometheusRule.runbookBaseUrl points every alert's runbook_url at the operator's copy of
# docs/RUNBOOK.md, one section per alert; without it the rules file's own links stay.
allon=$work/all-on-values/manifest-${K8S_VERSIONS##*,}.yaml
alerts=$(grep -c '^ *- alert: ' "$chart/files/rules/credence.rules.yaml")
linked=$(grep -c 'runbook_url: https://wiki.example.com/security/credence/RUNBOOK.md#credence[a-z]*$' "$allon" || true)
sections=$(grep -c '^## Credence' docs/RUNBOOK.md)
if [ "$linked" = "$alerts" ] && [ "$sections" = "$alerts" ]; then
  ok "all-on-values: the $alerts alerts link runbookBaseUrl#alertname; docs/RUNBOOK.md has their $sections sections"
else
  bad "runbook links: $alerts alerts, $linked linked to runbookBaseUrl in all-on-values, $sections sections in docs/RUNBOOK.md"
fi

step "gating on the cluster's APIs"
# Without --api-versions (a cluster without prometheus-operator and KEDA) nothing of theirs
# renders; the built-in APIs (HPA, PDB, NetworkPolicy) still do; without KEDA's ScaledObject the
# Deployment keeps its replica count.
kinds_without_apis() {
  "$helm" template credence "$chart" -f "$1" >"$work/no-apis.yaml"
  "$py" "$here/chart_checks.py" kinds "$work/no-apis.yaml" | sort | uniq | tr '\n' ' '
}
crd_kinds='ServiceMonitor|PodMonitor|PrometheusRule|ScaledObject|TriggerAuthentication'
kinds=$(kinds_without_apis "$chart/ci/all-on-values.yaml")
if ! echo "$kinds" | grep -qwE "$crd_kinds" && echo "$kinds" | grep -qw HorizontalPodAutoscaler \
  && echo "$kinds" | grep -qw NetworkPolicy && echo "$kinds" | grep -qw PodDisruptionBudget; then
  ok "all-on-values without the CRDs' APIs: $kinds"
else
  bad "all-on-values without the CRDs' APIs rendered: $kinds"
fi
kinds=$(kinds_without_apis "$chart/ci/keda-values.yaml")
if ! echo "$kinds" | grep -qwE "$crd_kinds" && grep -q '^  replicas: 1$' "$work/no-apis.yaml"; then
  ok "keda-values without the CRDs' APIs: $kinds, and the Deployment keeps replicas: 1"
else
  bad "keda-values without the CRDs' APIs rendered: $kinds (or no replicas)"
fi

step "NOTES.txt"
# helm template leaves NOTES.txt out and helm install needs a cluster: render it through tpl in a
# copy of the chart (a NOTES.txt that fails to render fails the install).
rm -rf "$work/notes-chart" && cp -r "$chart" "$work/notes-chart"
cp "$chart/templates/NOTES.txt" "$work/notes-chart/files/notes.txt"
cat >"$work/notes-chart/templates/notes-check.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ tpl (.Files.Get "files/notes.txt") . | toJson }}
EOF
notes() {
  "$helm" template credence "$work/notes-chart" --show-only templates/notes-check.yaml "$@" >"$work/notes.yaml" &&
    "$py" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["notes"])' "$work/notes.yaml"
}
for f in "$chart"/ci/*-values.yaml; do
  if notes -f "$f" "${api[@]}" >"$work/notes.txt" && grep -q "port-forward" "$work/notes.txt" && ! grep -q WARNING "$work/notes.txt"; then
    ok "NOTES.txt renders for $(basename "$f")"
  else
    bad "NOTES.txt for $(basename "$f"):"; cat "$work/notes.txt"
  fi
done
if notes -f "$chart/ci/keda-values.yaml" >"$work/notes.txt" && grep -q "ScaledObject (keda.sh/v1alpha1)" "$work/notes.txt" \
  && grep -q "PodMonitor (monitoring.coreos.com/v1)" "$work/notes.txt"; then
  ok "NOTES.txt warns about the parts whose API the cluster lacks"
else
  bad "NOTES.txt does not warn about the missing APIs:"; cat "$work/notes.txt"
fi

step "typos and render-time checks are refused"
cat >"$work/typo-top.yaml" <<'EOF'
replicaCount2: 1
EOF
cat >"$work/typo-nested.yaml" <<'EOF'
securityContext:
  readOnlyRootFileSystem: false
EOF
cat >"$work/typo-config.yaml" <<'EOF'
config:
  kafka:
    bootstrap_server: kafka:9092
EOF
cat >"$work/typo-input.yaml" <<'EOF'
config:
  inputs:
    - topics: ["a"]
      fromat: kong
EOF
cat >"$work/wrong-type.yaml" <<'EOF'
config:
  daemon:
    shutdown_timeout_secs: "20"
EOF
# refused HOW NAME MESSAGE ARGS...: `helm template` must fail saying MESSAGE. HOW=schema: so must
# `helm lint` (values.schema.json); HOW=render: a `fail` in a template, which Helm's lint mode
# reports as "[INFO] Fail: MESSAGE" without failing, so lint must say that.
refused() {
  local how=$1 name=$2 msg=$3
  shift 3
  if "$helm" template credence "$chart" "${api[@]}" "$@" >"$work/neg.log" 2>&1; then
    bad "$name: helm template accepted it"
  elif grep -qF -- "$msg" "$work/neg.log"; then
    ok "$name: helm template refuses it ($msg)"
  else
    bad "$name: helm template failed without saying '$msg':"; cat "$work/neg.log"
  fi
  local lint_rc=0
  "$helm" lint --strict "$chart" "$@" >"$work/neg.log" 2>&1 || lint_rc=$?
  if [ "$how" = schema ]; then
    if [ "$lint_rc" != 0 ] && grep -qF -- "$msg" "$work/neg.log"; then ok "$name: helm lint refuses it"
    else bad "$name: helm lint (exit $lint_rc) did not refuse it with '$msg':"; cat "$work/neg.log"; fi
  elif grep -F 'Fail:' "$work/neg.log" | grep -qF -- "$msg"; then
    ok "$name: helm lint reports it"
  else
    bad "$name: helm lint did not report 'Fail: $msg':"; cat "$work/neg.log"
  fi
}
min=(-f "$chart/ci/minimal-values.yaml")
refused schema "--set replicaCount2=1" "additional properties 'replicaCount2' not allowed" "${min[@]}" --set replicaCount2=1
refused schema "typo at the top" "additional properties 'replicaCount2' not allowed" "${min[@]}" -f "$work/typo-top.yaml"
refused schema "typo in securityContext" "additional properties 'readOnlyRootFileSystem' not allowed" "${min[@]}" -f "$work/typo-nested.yaml"
refused schema "typo in config.kafka" "additional properties 'bootstrap_server' not allowed" "${min[@]}" -f "$work/typo-config.yaml"
refused schema "typo in config.inputs[0]" "additional properties 'fromat' not allowed" "${min[@]}" -f "$work/typo-input.yaml"
refused schema "a string for an integer" "/config/daemon/shutdown_timeout_secs" "${min[@]}" -f "$work/wrong-type.yaml"
refused schema "an unknown log format" "/config/log/format" "${min[@]}" --set config.log.format=yaml
refused render "no pseudonymisation key" "pseudonymKey.existingSecret is required" --set config.kafka.bootstrap_servers=k:9092
refused render "no brokers" "config.kafka.bootstrap_servers is required" --set pseudonymKey.existingSecret=s
refused render "grace period not above the shutdown deadline" "terminationGracePeriodSeconds (20) must be larger than config.daemon.shutdown_timeout_secs (20)" "${min[@]}" --set terminationGracePeriodSeconds=20
refused render "HPA and KEDA" "autoscaling.enabled and keda.enabled are exclusive" "${min[@]}" --set autoscaling.enabled=true,keda.enabled=true,partitionCount=4
refused render "ServiceMonitor and PodMonitor" "are exclusive: every daemon would be scraped twice" "${min[@]}" --set metrics.serviceMonitor.enabled=true,metrics.podMonitor.enabled=true
refused render "more replicas than partitions" "replicaCount (5) is above partitionCount (4)" "${min[@]}" --set replicaCount=5,partitionCount=4
refused render "an autoscaler above the partitions" "keda.maxReplicaCount (8) is above partitionCount (4)" "${min[@]}" --set keda.enabled=true,keda.maxReplicaCount=8,partitionCount=4
refused render "an autoscaler without a bound" "autoscaling.maxReplicas: set it or partitionCount" "${min[@]}" --set autoscaling.enabled=true
refused render "an inline SASL password" "config.kafka.librdkafka.\"sasl.password\" holds a secret and would land in a ConfigMap: keep it in a Secret (kafka.sasl, kafka.tls, or extraEnv with a secretKeyRef as CREDENCE_KAFKA__LIBRDKAFKA__SASL_PASSWORD)" "${min[@]}" --set-string 'config.kafka.librdkafka.sasl\.password=hunter2'
refused render "SASL without its Secret" "kafka.sasl.enabled needs kafka.sasl.existingSecret" "${min[@]}" --set kafka.sasl.enabled=true
refused render "security.protocol set twice" "config.kafka.librdkafka.\"security.protocol\" is set by the chart" "${min[@]}" --set kafka.tls.enabled=true --set-string 'config.kafka.librdkafka.security\.protocol=SSL'
refused render "a network policy without brokers" "list the Kafka brokers in networkPolicy.kafka.cidrs" "${min[@]}" --set networkPolicy.enabled=true
refused render "a random admin port" "the port must be 1-65535" "${min[@]}" --set config.admin.listen_addr=0.0.0.0:0
refused render "a relative alerts file" "config.alerts.file \"alerts.jsonl\": give an absolute path" "${min[@]}" --set config.alerts.file=alerts.jsonl

step "the checksum annotation follows the configuration"
checksum() {
  "$helm" template credence "$chart" "${min[@]}" "$@" >"$work/sum.yaml"
  "$py" "$here/chart_checks.py" annotation "$work/sum.yaml" checksum/config
}
base=$(checksum)
changed=$(checksum --set config.log.level=debug)
unrelated=$(checksum --set replicaCount=2 --set-string podAnnotations.a=b)
if [ -n "$base" ] && [ "$base" != "$changed" ]; then ok "config.log.level changes checksum/config"
else bad "checksum/config did not change with config.log.level ($base)"; fi
if [ "$base" = "$unrelated" ]; then ok "replicaCount and podAnnotations leave checksum/config alone"
else bad "checksum/config changed with values outside the configuration"; fi
sasl_on=$(checksum --set kafka.sasl.enabled=true,kafka.sasl.existingSecret=s)
"$helm" template credence "$chart" "${min[@]}" --show-only templates/deployment.yaml >"$work/a.yaml"
sed 's/^version: .*/version: 99.0.0/' "$chart/Chart.yaml" >"$work/Chart.yaml"
cp -r "$chart" "$work/chart-bumped" && cp "$work/Chart.yaml" "$work/chart-bumped/Chart.yaml"
"$helm" template credence "$work/chart-bumped" "${min[@]}" --show-only templates/deployment.yaml >"$work/b.yaml"
if "$py" - "$work/a.yaml" "$work/b.yaml" <<'PY'
import sys, yaml
a, b = (yaml.safe_load(open(p))["spec"]["template"] for p in sys.argv[1:])
sys.exit(0 if a == b else 1)
PY
then ok "a chart version bump leaves the pod template alone (no restart, no lost baselines)"
else bad "a chart version bump changes the pod template"; fi
if [ "$base" != "$sasl_on" ]; then ok "kafka.sasl (librdkafka options in the ConfigMap) changes checksum/config"
else bad "checksum/config did not change with kafka.sasl"; fi

step "summary"
printf '%s\n' "${summary[@]}" | "$py" -c '
import json, sys
print("%-16s %9s  %-12s %-13s %-12s %s" % ("values", "resources", "k8s schema", "CRD schema", "check-config", "kinds"))
for line in sys.stdin:
    name, rest = line.split(" ", 1)
    end = rest.rindex("}") + 1
    stats, tail = json.loads(rest[:end]), rest[end:].split()
    print("%-16s %9d  %-12d %-13d %-12s %s" % (name, stats["resources"], stats["validated_kubernetes"],
          stats["validated_custom"], tail[-1] if tail else "-",
          " ".join("%s=%d" % kv for kv in sorted(stats["kinds"].items()))))
print("(schema columns: validations passed, each resource once per Kubernetes version: %s)" % ", ".join(stats["versions"]))
'
echo
echo "helm: $passed passed, $failed failed"
[ "$failed" = 0 ]
