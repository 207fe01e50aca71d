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

{{/* The namespaces served in namespaced mode: scope.namespaces, or the release's. */}}
{{- define "kontinue.namespaces" -}}
{{- $namespaces := .Values.scope.namespaces | default (list .Release.Namespace) }}
{{- toJson $namespaces }}
{{- end }}

{{/* The namespaces the workers serve: worker.namespaces, else those of the scope (namespaced) or the release's (cluster). */}}
{{- define "kontinue.worker.namespaces" -}}
{{- if .Values.worker.namespaces }}
{{- toJson .Values.worker.namespaces }}
{{- else if include "kontinue.clusterWide" . }}
{{- toJson (list .Release.Namespace) }}
{{- else }}
{{- include "kontinue.namespaces" . }}
{{- end }}
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
