{{/*
The worker version of an image: worker.version, else the image's tag, else its digest (short),
else the chart's appVersion. Executions stay pinned to the version that first claimed them.
(list $ image)
*/}}
{{- define "kontinue.worker.version" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- if $image.tag }}
{{- $image.tag }}
{{- else if $image.digest }}
{{- $image.digest | trunc 19 }}
{{- else }}
{{- $root.Chart.AppVersion }}
{{- end }}
{{- end }}

{{/* A worker version as a label value. */}}
{{- define "kontinue.worker.versionLabel" -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]+" . "-" | trunc 63 | trimAll "-_." }}
{{- end }}

{{/*
The pod template of a worker Deployment: (dict "root" $ "component" "worker"|"worker-draining"
"image" image "version" version "modules" [...] "paths" [...] "resources" {...} "drain" bool
"upgradeFrom" [...]). Everything else comes from .Values.worker.
*/}}
{{- define "kontinue.worker.podTemplate" -}}
{{- $ := .root }}
{{- $p := . }}
{{- with $.Values.worker }}
metadata:
  labels:
    {{- include "kontinue.component.selectorLabels" (list $ $p.component) | nindent 4 }}
    kontinue.cloud/worker-group: {{ .group | quote }}
    kontinue.cloud/worker-version: {{ include "kontinue.worker.versionLabel" $p.version | quote }}
    {{- with .podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "kontinue.worker.serviceAccountName" $ }}
  # no Docker-link variables of the namespace's Services: a Service named like the release's
  # UI would otherwise set KONTINUE_UI_PORT=tcp://... for every pod (the services read KONTINUE_*)
  enableServiceLinks: false
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "kontinue.podSecurityContext" $ | nindent 4 }}
  # SIGTERM: stop claiming, let running attempts finish for --grace seconds, release the rest.
  terminationGracePeriodSeconds: {{ add (int .grace) 10 }}
  containers:
    - name: worker
      image: {{ include "kontinue.image" (list $ $p.image) }}
      imagePullPolicy: {{ $p.image.pullPolicy }}
      {{- include "kontinue.command" (list $ "kontinue-worker") | trim | nindent 6 }}
      args:
        {{- range (include "kontinue.worker.namespaces" $ | fromJsonArray) }}
        - --namespace={{ . }}
        {{- end }}
        {{- range $p.modules }}
        - --module={{ . }}
        {{- end }}
        {{- range $p.paths }}
        - --path={{ . }}
        {{- end }}
        - --group={{ .group }}
        - --concurrency={{ .concurrency }}
        - --hold={{ .hold }}
        - --lease-duration={{ .leaseDuration }}
        - --grace={{ .grace }}
        - --metrics-port={{ .metricsPort }}
        {{- if .jobSteps.enabled }}
        - --job-service-account={{ include "kontinue.job.serviceAccountName" $ }}
        {{- if .jobSteps.automountToken }}
        - --job-automount-token
        {{- end }}
        {{- else }}
        - --no-job-steps
        {{- end }}
        {{- if $p.drain }}
        - --drain
        {{- end }}
        {{- with $p.upgradeFrom }}
        - --upgrade-from={{ join "," . }}
        {{- end }}
        {{- with .extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: KONTINUE_WORKER_VERSION
          value: {{ $p.version | quote }}
        {{- include "kontinue.env" (list $ "worker") | trim | nindent 8 }}
      ports:
        - name: metrics
          containerPort: {{ .metricsPort }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /metrics
          port: metrics
        initialDelaySeconds: 10
        periodSeconds: 20
        timeoutSeconds: 5
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /metrics
          port: metrics
        periodSeconds: 10
        timeoutSeconds: 5
      resources:
        {{- toYaml $p.resources | nindent 8 }}
      securityContext:
        {{- include "kontinue.containerSecurityContext" $ | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir: {}
  {{- with .nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Every worker pod of the release, the current version's and the draining ones (a selector). */}}
{{- define "kontinue.worker.podSelector" -}}
matchLabels:
  {{- include "kontinue.selectorLabels" . | nindent 2 }}
matchExpressions:
  - key: app.kubernetes.io/component
    operator: In
    values: [worker, worker-draining]
{{- end }}
