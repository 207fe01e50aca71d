{{/*
Names, labels, images and the shared pieces of the three Deployments.
*/}}

{{- define "kontinue.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's base name: "<release>-kontinue", or the release name if it contains "kontinue". */}}
{{- define "kontinue.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kontinue.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kontinue.labels" -}}
helm.sh/chart: {{ include "kontinue.chart" . }}
{{ include "kontinue.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kontinue
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kontinue.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kontinue.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Component helpers take (list $ "controller"|"worker"|"ui"). */}}
{{- define "kontinue.component.fullname" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "kontinue.fullname" $root | trunc 52 | trimSuffix "-") (index . 1) }}
{{- end }}

{{- define "kontinue.component.labels" -}}
{{ include "kontinue.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "kontinue.component.selectorLabels" -}}
{{ include "kontinue.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "kontinue.component.serviceAccountName" -}}
{{- $root := index . 0 }}
{{- $sa := (index $root.Values (index . 1)).serviceAccount }}
{{- if $sa.create }}
{{- default (include "kontinue.component.fullname" .) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{- define "kontinue.controller.fullname" -}}{{ include "kontinue.component.fullname" (list . "controller") }}{{- end }}
{{- define "kontinue.worker.fullname" -}}{{ include "kontinue.component.fullname" (list . "worker") }}{{- end }}
{{- define "kontinue.ui.fullname" -}}{{ include "kontinue.component.fullname" (list . "ui") }}{{- end }}
{{- define "kontinue.controller.serviceAccountName" -}}{{ include "kontinue.component.serviceAccountName" (list . "controller") }}{{- end }}
{{- define "kontinue.worker.serviceAccountName" -}}{{ include "kontinue.component.serviceAccountName" (list . "worker") }}{{- end }}
{{- define "kontinue.ui.serviceAccountName" -}}{{ include "kontinue.component.serviceAccountName" (list . "ui") }}{{- end }}

{{/* The image of a component: (list $ .Values.<component>.image). */}}
{{- define "kontinue.image" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- $registry := default $root.Values.global.imageRegistry $image.registry }}
{{- $repository := ternary (printf "%s/%s" $registry $image.repository) $image.repository (ne $registry "") }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default $root.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* Whether the chart manages every namespace (ClusterRoles, --all-namespaces). */}}
{{- define "kontinue.clusterWide" -}}
{{- if eq .Values.scope.mode "cluster" }}true{{ end }}
{{- end }}

{{/*
The namespaces workflows run in: scope.namespaces; else, in cluster mode, the workers'; else
"<release namespace>-workflows", which the chart creates.
*/}}
{{- define "kontinue.workflowNamespaces" -}}
{{- if .Values.scope.namespaces }}
{{- toJson .Values.scope.namespaces }}
{{- else if and (include "kontinue.clusterWide" .) .Values.worker.enabled .Values.worker.namespaces }}
{{- toJson .Values.worker.namespaces }}
{{- else }}
{{- toJson (list (include "kontinue.defaultWorkflowNamespace" .)) }}
{{- end }}
{{- end }}

{{/* The namespace the chart creates when scope.namespaces is empty. */}}
{{- define "kontinue.defaultWorkflowNamespace" -}}
{{- printf "%s-workflows" (.Release.Namespace | trunc 53 | trimSuffix "-") }}
{{- end }}

{{/* The namespaces served in namespaced mode: the workflow namespaces. */}}
{{- define "kontinue.namespaces" -}}
{{- include "kontinue.workflowNamespaces" . }}
{{- end }}

{{/* The namespaces the workers serve: worker.namespaces, else the workflow namespaces. */}}
{{- define "kontinue.worker.namespaces" -}}
{{- if .Values.worker.namespaces }}
{{- toJson .Values.worker.namespaces }}
{{- else }}
{{- include "kontinue.workflowNamespaces" . }}
{{- end }}
{{- end }}

{{/* Every namespace workflows may run in: the workflow namespaces and the workers'. */}}
{{- define "kontinue.allWorkflowNamespaces" -}}
{{- $all := concat (include "kontinue.workflowNamespaces" . | fromJsonArray) (ternary (include "kontinue.worker.namespaces" . | fromJsonArray) list .Values.worker.enabled) }}
{{- toJson (uniq $all) }}
{{- end }}

{{/* The user name of a component's ServiceAccount: (list $ "controller"|"worker"|"ui"). */}}
{{- define "kontinue.component.username" -}}
{{- printf "system:serviceaccount:%s:%s" (index . 0).Release.Namespace (include "kontinue.component.serviceAccountName" .) }}
{{- end }}

{{/* The ServiceAccount job pods run as (in every worker namespace). */}}
{{- define "kontinue.job.serviceAccountName" -}}
{{- .Values.worker.jobSteps.serviceAccount.name | default (include "kontinue.component.fullname" (list . "job")) }}
{{- end }}

{{/* The name of a cluster-scoped object of this release: (list $ "suffix"). */}}
{{- define "kontinue.clusterObjectName" -}}
{{- $root := index . 0 }}
{{- printf "%s.%s.%s" (include "kontinue.fullname" $root) $root.Release.Namespace (index . 1) }}
{{- end }}

{{/* Whether the UI offers actions: an auth mode (or anonymous actions), and not read-only. */}}
{{- define "kontinue.ui.actions" -}}
{{- if and (not .Values.ui.readOnly) (or (ne .Values.ui.auth.mode "none") .Values.ui.auth.anonymousActions) }}true{{ end }}
{{- end }}

{{/* The scope flags of the controller and the UI. */}}
{{- define "kontinue.scopeArgs" -}}
{{- if include "kontinue.clusterWide" . }}
- --all-namespaces
{{- else }}
{{- range (include "kontinue.namespaces" . | fromJsonArray) }}
- --namespace={{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* POD_NAME and POD_NAMESPACE from the downward API, the log settings, and OTEL_* (list $ "component"). */}}
{{- define "kontinue.env" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: KONTINUE_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: KONTINUE_LOG_FORMAT
  value: {{ $root.Values.logFormat | quote }}
{{- with $root.Values.otel }}
{{- if .enabled }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "kontinue-%s" $component | quote }}
- name: OTEL_TRACES_EXPORTER
  value: {{ .tracesExporter | quote }}
{{- with .endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .protocol }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- with .sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with .samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.namespace.name=%s,k8s.pod.name=$(POD_NAME)%s" $root.Release.Namespace (ternary (printf ",%s" .resourceAttributes) "" (ne .resourceAttributes "")) | quote }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end }}
{{- with (index $root.Values $component).extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The pod and container security contexts shared by every component. */}}
{{- define "kontinue.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "kontinue.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{/*
The container command: the image's entrypoint, or (dev.reload, skaffold's dev profile) the same
command line under watchfiles, restarted when the synced sources in /opt/kontinue/dev change.
(list $ "kontinue-worker"), the worker also watching its workflows in /app/workflows.
*/}}
{{- define "kontinue.command" -}}
{{- if (index . 0).Values.dev.reload }}
{{- $watched := ternary "/opt/kontinue/dev /app/workflows" "/opt/kontinue/dev" (eq (index . 1) "kontinue-worker") }}
command: [sh, -c, 'exec watchfiles --filter python "$0 $*" {{ $watched }}', {{ index . 1 }}]
{{- else }}
command: [{{ index . 1 }}]
{{- end }}
{{- end }}

{{/*
A checksum of a Secret's content for a pod annotation, stable across renders:
(list $ secretName value). The value when the chart renders the Secret from it; else the
existing Secret's data when the cluster can be read (install, upgrade); else its name.
*/}}
{{- define "kontinue.ui.secretChecksum" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $value := index . 2 }}
{{- if $value }}
{{- $value | sha256sum | trunc 16 }}
{{- else if $name }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace $name }}
{{- print $name (toJson (($existing | default dict).data | default dict)) | sha256sum | trunc 16 }}
{{- else }}
{{- "generated-per-pod" }}
{{- end }}
{{- end }}
