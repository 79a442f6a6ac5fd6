{{/* Names, labels and the values the templates share. */}}

{{/* The chart name, or nameOverride. */}}
{{- define "credence.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* RELEASE-credence (or RELEASE when it already says credence), or fullnameOverride. */}}
{{- define "credence.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* name-version, for helm.sh/chart. */}}
{{- define "credence.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the pods: never change them on upgrade (Deployment selectors are immutable). */}}
{{- define "credence.selectorLabels" -}}
app.kubernetes.io/name: {{ include "credence.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The standard labels of every resource. */}}
{{- define "credence.labels" -}}
helm.sh/chart: {{ include "credence.chart" . }}
{{ include "credence.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: detector
app.kubernetes.io/part-of: credence
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
The pods' labels: the standard ones without helm.sh/chart, so that a chart upgrade that changes
nothing in the pods does not restart them (a restart starts every baseline over).
*/}}
{{- define "credence.podLabels" -}}
{{ include "credence.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: detector
app.kubernetes.io/part-of: credence
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "credence.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "credence.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "credence.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* The admin port, from config.admin.listen_addr (host:port or [v6]:port). */}}
{{- define "credence.adminPort" -}}
{{- $addr := toString .Values.config.admin.listen_addr -}}
{{- if not (regexMatch "^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+):[0-9]+$" $addr) -}}
{{- fail (printf "config.admin.listen_addr %q must be an IP address and a port, e.g. 0.0.0.0:9464" $addr) -}}
{{- end -}}
{{- $port := regexFind "[0-9]+$" $addr | atoi -}}
{{- if or (lt $port 1) (gt $port 65535) -}}
{{- fail (printf "config.admin.listen_addr %q: the port must be 1-65535 (0, a random port, cannot be probed)" $addr) -}}
{{- end -}}
{{- $port -}}
{{- end -}}

{{/* "true" when TLS files are mounted from kafka.tls.existingSecret. */}}
{{- define "credence.tlsFiles" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* Where the mounted files live. */}}
{{- define "credence.configDir" -}}/etc/credence/config{{- end -}}
{{- define "credence.pseudonymDir" -}}/etc/credence/pseudonym{{- end -}}
{{- define "credence.tlsDir" -}}/etc/credence/tls{{- end -}}

{{/*
The directory that must be writable for config.alerts.file, or "" when no file is written
(none, or "-" for standard output).
*/}}
{{- define "credence.alertsDir" -}}
{{- $f := .Values.config.alerts.file -}}
{{- if and $f (ne (toString $f) "-") -}}
{{- $d := dir (toString $f) -}}
{{- if or (not (isAbs (toString $f))) (eq $d "/") (hasPrefix "/etc/credence" $d) -}}
{{- fail (printf "config.alerts.file %q: give an absolute path in a directory of its own (not / or /etc/credence), e.g. /var/lib/credence/alerts.jsonl" (toString $f)) -}}
{{- end -}}
{{- $d -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the part is enabled and the cluster serves its API: group/version/kind for custom
resources (what Helm learns from a cluster's discovery, or --api-versions), group/version for the
built-in APIs (always known to Helm for the target Kubernetes version).
*/}}
{{- define "credence.serviceMonitorOn" -}}
{{- if and .Values.metrics.serviceMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor") -}}true{{- end -}}
{{- end -}}
{{- define "credence.podMonitorOn" -}}
{{- if and .Values.metrics.podMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PodMonitor") -}}true{{- end -}}
{{- end -}}
{{- define "credence.prometheusRuleOn" -}}
{{- if and .Values.prometheusRule.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PrometheusRule") -}}true{{- end -}}
{{- end -}}
{{- define "credence.hpaOn" -}}
{{- if and .Values.autoscaling.enabled (.Capabilities.APIVersions.Has "autoscaling/v2") -}}true{{- end -}}
{{- end -}}
{{- define "credence.kedaOn" -}}
{{- if and .Values.keda.enabled (.Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject") -}}true{{- end -}}
{{- end -}}
{{- define "credence.pdbOn" -}}
{{- if and .Values.podDisruptionBudget.enabled (.Capabilities.APIVersions.Has "policy/v1") -}}true{{- end -}}
{{- end -}}
{{- define "credence.networkPolicyOn" -}}
{{- if and .Values.networkPolicy.enabled (.Capabilities.APIVersions.Has "networking.k8s.io/v1") -}}true{{- end -}}
{{- end -}}

{{/* The upper bound of an autoscaler: its own maximum, else partitionCount. */}}
{{- define "credence.maxReplicas" -}}
{{- $max := .max -}}
{{- $parts := .root.Values.partitionCount -}}
{{- if and (kindIs "invalid" $max) (kindIs "invalid" $parts) -}}
{{- fail (printf "%s: set it or partitionCount (the total partitions of the input topics: more daemons would sit idle)" .name) -}}
{{- end -}}
{{- $m := int (default $parts $max) -}}
{{- if and (not (kindIs "invalid" $parts)) (gt $m (int $parts)) -}}
{{- fail (printf "%s (%d) is above partitionCount (%d): daemons beyond the partition count sit idle" .name $m (int $parts)) -}}
{{- end -}}
{{- if lt $m (int .min) -}}
{{- fail (printf "%s (%d) is below the minimum (%d)" .name $m (int .min)) -}}
{{- end -}}
{{- $m -}}
{{- end -}}

{{/* librdkafka options that hold secrets: never in the ConfigMap. */}}
{{- define "credence.secretOptions" -}}
{{- list "sasl.password" "ssl.key.password" "ssl.key.pem" "ssl.keystore.password" "sasl.oauthbearer.client.secret" "sasl.oauthbearer.config" | toJson -}}
{{- end -}}

{{/*
Every check of the values that the schema cannot express; the render fails with a message on the
first problem. Included by the Deployment, so every render runs it.
*/}}
{{- define "credence.validate" -}}
{{- $v := .Values -}}
{{- if not $v.pseudonymKey.existingSecret -}}
{{- fail "pseudonymKey.existingSecret is required: the name of a Secret holding the HMAC pseudonymisation key (64+ hex digits), e.g. `kubectl create secret generic credence-pseudonym --from-literal=key=$(openssl rand -hex 32)`, then --set pseudonymKey.existingSecret=credence-pseudonym" -}}
{{- end -}}
{{- if not $v.config.kafka.bootstrap_servers -}}
{{- fail "config.kafka.bootstrap_servers is required (host:port[,host:port...])" -}}
{{- end -}}
{{- $shutdown := int $v.config.daemon.shutdown_timeout_secs -}}
{{- if le (int $v.terminationGracePeriodSeconds) $shutdown -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be larger than config.daemon.shutdown_timeout_secs (%d): the daemon needs that long to drain, flush its alerts and commit before it is killed" (int $v.terminationGracePeriodSeconds) $shutdown) -}}
{{- end -}}
{{- if and $v.autoscaling.enabled $v.keda.enabled -}}
{{- fail "autoscaling.enabled and keda.enabled are exclusive: KEDA creates its own HorizontalPodAutoscaler" -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled $v.metrics.podMonitor.enabled -}}
{{- fail "metrics.serviceMonitor.enabled and metrics.podMonitor.enabled are exclusive: every daemon would be scraped twice" -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $v.partitionCount)) (gt (int $v.replicaCount) (int $v.partitionCount)) -}}
{{- fail (printf "replicaCount (%d) is above partitionCount (%d): daemons beyond the partition count get no partition and sit idle" (int $v.replicaCount) (int $v.partitionCount)) -}}
{{- end -}}
{{- if $v.autoscaling.enabled -}}
{{- $_ := include "credence.maxReplicas" (dict "root" . "max" $v.autoscaling.maxReplicas "min" $v.autoscaling.minReplicas "name" "autoscaling.maxReplicas") -}}
{{- if and (kindIs "invalid" $v.autoscaling.targetCPUUtilizationPercentage) (kindIs "invalid" $v.autoscaling.targetMemoryUtilizationPercentage) (not $v.autoscaling.metrics) -}}
{{- fail "autoscaling: give targetCPUUtilizationPercentage, targetMemoryUtilizationPercentage or metrics" -}}
{{- end -}}
{{- end -}}
{{- if $v.keda.enabled -}}
{{- $_ := include "credence.maxReplicas" (dict "root" . "max" $v.keda.maxReplicaCount "min" $v.keda.minReplicaCount "name" "keda.maxReplicaCount") -}}
{{- end -}}
{{- if and $v.podDisruptionBudget.enabled (kindIs "invalid" $v.podDisruptionBudget.minAvailable) (kindIs "invalid" $v.podDisruptionBudget.maxUnavailable) -}}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable" -}}
{{- end -}}
{{- if and $v.kafka.sasl.enabled (not $v.kafka.sasl.existingSecret) -}}
{{- fail "kafka.sasl.enabled needs kafka.sasl.existingSecret: the Secret holding the SASL username and password (they are never put in the ConfigMap)" -}}
{{- end -}}
{{- if $v.kafka.tls.enabled -}}
{{- if and (not $v.kafka.tls.existingSecret) (or $v.kafka.tls.certKey $v.kafka.tls.keyKey $v.kafka.tls.keyPasswordKey) -}}
{{- fail "kafka.tls: certKey, keyKey and keyPasswordKey name keys of kafka.tls.existingSecret, which is not set" -}}
{{- end -}}
{{- if and $v.kafka.tls.existingSecret (not (or $v.kafka.tls.caKey $v.kafka.tls.certKey)) -}}
{{- fail "kafka.tls.existingSecret: give caKey and/or certKey and keyKey, the keys of the files to mount" -}}
{{- end -}}
{{- if ne (empty $v.kafka.tls.certKey) (empty $v.kafka.tls.keyKey) -}}
{{- fail "kafka.tls: mutual TLS needs both certKey and keyKey" -}}
{{- end -}}
{{- end -}}
{{- $secretOptions := include "credence.secretOptions" . | fromJsonArray -}}
{{- $managed := list -}}
{{- if or $v.kafka.sasl.enabled $v.kafka.tls.enabled -}}{{- $managed = append $managed "security.protocol" -}}{{- end -}}
{{- if $v.kafka.sasl.enabled -}}{{- $managed = concat $managed (list "sasl.mechanisms" "sasl.mechanism") -}}{{- end -}}
{{- if include "credence.tlsFiles" . -}}{{- $managed = concat $managed (list "ssl.ca.location" "ssl.certificate.location" "ssl.key.location") -}}{{- end -}}
{{- range $table := list "librdkafka" "consumer_librdkafka" "producer_librdkafka" -}}
{{- range $key, $_ := (get $v.config.kafka $table | default dict) -}}
{{- if has $key $secretOptions -}}
{{- fail (printf "config.kafka.%s.%q holds a secret and would land in a ConfigMap: keep it in a Secret (kafka.sasl, kafka.tls, or extraEnv with a secretKeyRef as CREDENCE_KAFKA__%s__%s)" $table $key (upper $table) (upper (replace "." "_" $key))) -}}
{{- end -}}
{{- if has $key $managed -}}
{{- fail (printf "config.kafka.%s.%q is set by the chart from kafka.sasl / kafka.tls: remove it from config" $table $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $v.networkPolicy.enabled (not $v.networkPolicy.kafka.cidrs) (not $v.networkPolicy.kafka.peers) -}}
{{- fail "networkPolicy.enabled: list the Kafka brokers in networkPolicy.kafka.cidrs or networkPolicy.kafka.peers, or the daemon cannot reach them" -}}
{{- end -}}
{{- $_ := include "credence.adminPort" . -}}
{{- $_ := include "credence.alertsDir" . -}}
{{- end -}}

{{/*
The configuration tree rendered to credence.toml: config, plus what the chart sets from other
values (pseudonym.key_file, the librdkafka options of kafka.sasl and kafka.tls). As JSON text,
which unlike YAML keeps every string as it is.
*/}}
{{- define "credence.configTree" -}}
{{- $v := .Values -}}
{{- $c := deepCopy $v.config -}}
{{- if $v.pseudonymKey.mountAsFile -}}
{{- $_ := set $c "pseudonym" (dict "key_file" (printf "%s/%s" (include "credence.pseudonymDir" .) $v.pseudonymKey.key)) -}}
{{- end -}}
{{- $kafka := $c.kafka -}}
{{- $lib := get $kafka "librdkafka" | default dict -}}
{{- if or $v.kafka.sasl.enabled $v.kafka.tls.enabled -}}
{{- $protocol := ternary (ternary "SASL_SSL" "SASL_PLAINTEXT" $v.kafka.tls.enabled) "SSL" $v.kafka.sasl.enabled -}}
{{- $_ := set $lib "security.protocol" $protocol -}}
{{- end -}}
{{- if $v.kafka.sasl.enabled -}}
{{- $_ := set $lib "sasl.mechanisms" $v.kafka.sasl.mechanism -}}
{{- end -}}
{{- if include "credence.tlsFiles" . -}}
{{- $dir := include "credence.tlsDir" . -}}
{{- with $v.kafka.tls.caKey -}}{{- $_ := set $lib "ssl.ca.location" (printf "%s/%s" $dir .) -}}{{- end -}}
{{- with $v.kafka.tls.certKey -}}{{- $_ := set $lib "ssl.certificate.location" (printf "%s/%s" $dir .) -}}{{- end -}}
{{- with $v.kafka.tls.keyKey -}}{{- $_ := set $lib "ssl.key.location" (printf "%s/%s" $dir .) -}}{{- end -}}
{{- end -}}
{{- $_ := set $kafka "librdkafka" $lib -}}
{{- toJson $c -}}
{{- end -}}

{{/* credence.toml, as the ConfigMap holds it (and as the pods' checksum/config annotation hashes it). */}}
{{- define "credence.configFile" -}}
{{- $config := include "credence.configTree" . | fromJson -}}
{{- if hasKey $config "Error" -}}{{- fail (printf "config: %v" $config.Error) -}}{{- end -}}
# Rendered by the Helm chart from the `config` values; see credence.example.toml for every
# setting. Set per pod through the environment: alerts.instance (and kafka.client_id) = the
# pod name; secrets come from Secrets, never from this file.
{{ include "credence.toml" $config }}
{{- end -}}
