{{/*
The RBAC rules of each component, derived from the API calls its code makes (docs/deploying.md
has the table). Each template renders a YAML list of PolicyRules.
*/}}

{{- define "kontinue.controller.rules" -}}
- apiGroups: [kontinue.cloud]
  resources: [executions]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [kontinue.cloud]
  resources: [executions/status, suspensions/status, scheduledexecutions/status]
  verbs: [patch]
- apiGroups: [kontinue.cloud]
  resources: [suspensions, scheduledexecutions, functions]
  verbs: [get, list, watch]
- apiGroups: [kontinue.cloud]
  resources: [archivedexecutions]
  verbs: [get, list, watch, create, delete]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, patch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, delete]
{{- end }}

{{- define "kontinue.controller.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [{{ include "kontinue.controller.fullname" . }}]
  verbs: [get, update, patch, delete]
{{- end }}

{{- define "kontinue.worker.rules" -}}
- apiGroups: [kontinue.cloud]
  resources: [executions]
  verbs: [get, list, watch, create]
- apiGroups: [kontinue.cloud]
  resources: [executions/status, functions/status]
  verbs: [patch]
- apiGroups: [kontinue.cloud]
  resources: [suspensions]
  verbs: [get, list, watch, create]
- apiGroups: [kontinue.cloud]
  resources: [functions]
  verbs: [get, create, patch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, patch, delete]
{{- if .Values.worker.jobSteps.enabled }}
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
{{- end }}
{{- end }}

{{- define "kontinue.ui.rules" -}}
- apiGroups: [kontinue.cloud]
  resources: [executions, suspensions, functions, scheduledexecutions]
  verbs: [get, list, watch]
- apiGroups: [kontinue.cloud]
  resources: [archivedexecutions]
  verbs: [get, list]
{{- if not .Values.ui.readOnly }}
- apiGroups: [kontinue.cloud]
  resources: [executions]
  verbs: [create, patch]
- apiGroups: [kontinue.cloud]
  resources: [suspensions/status]
  verbs: [patch]
- apiGroups: [kontinue.cloud]
  resources: [scheduledexecutions]
  verbs: [patch]
{{- end }}
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
{{- end }}

{{/*
Role and RoleBinding per namespace, or one ClusterRole and ClusterRoleBinding:
(dict "root" $ "component" "controller" "rules" "kontinue.controller.rules" "cluster" bool "namespaces" list).
*/}}
{{- define "kontinue.rbac" -}}
{{- $root := .root }}
{{- $name := include "kontinue.component.fullname" (list $root .component) }}
{{- $sa := include "kontinue.component.serviceAccountName" (list $root .component) }}
{{- $labels := include "kontinue.component.labels" (list $root .component) }}
{{- if .cluster }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
rules:
  {{- include .rules $root | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $sa }}
    namespace: {{ $root.Release.Namespace }}
{{- else }}
{{- range .namespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ . }}
  labels:
    {{- $labels | nindent 4 }}
rules:
  {{- include $.rules $root | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ . }}
  labels:
    {{- $labels | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $sa }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end }}
{{- end }}
