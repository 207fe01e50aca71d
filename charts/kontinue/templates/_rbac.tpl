{{/*
The RBAC rules of each component, derived from the API calls its code makes (docs/deploying.md
has the table, docs/security.md what each component may do). Each template renders a YAML
list of PolicyRules. What RBAC cannot express (which Leases, Jobs, ConfigMaps and fields) the
ValidatingAdmissionPolicies in admission/ enforce.
*/}}

{{- define "kontinue.controller.rules" -}}
- apiGroups: [kontinue.cloud]
  resources: [executions]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [kontinue.cloud]
  resources: [executions/status, suspensions/status, scheduledexecutions/status]
  verbs: [patch]
# scheduled runs are owned by their schedule with blockOwnerDeletion, which the
# OwnerReferencesPermissionEnforcement admission plugin (OpenShift) allows only with this
- apiGroups: [kontinue.cloud]
  resources: [scheduledexecutions/finalizers]
  verbs: [update]
- apiGroups: [kontinue.cloud]
  resources: [suspensions, scheduledexecutions, functions, signals]
  verbs: [get, list, watch]
- apiGroups: [kontinue.cloud]
  resources: [archivedexecutions]
  verbs: [get, list, watch, create, delete]
# patch: suspending the Jobs of a canceled tree (admission: Jobs of executions only)
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# delete: the Lease of a worker that stopped renewing it (admission: worker Leases only)
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, delete]
{{- if not (include "kontinue.clusterWide" .) }}
{{ include "kontinue.controller.journalRules" . }}
{{- end }}
{{- end }}

{{/* Reading journal chunks to archive a tree: in the workflow namespaces only. */}}
{{- define "kontinue.controller.journalRules" -}}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
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
# create: child executions (admission: of the worker's group only)
- apiGroups: [kontinue.cloud]
  resources: [executions]
  verbs: [get, list, watch, create]
# admission: executions and Functions of the worker's group only
- apiGroups: [kontinue.cloud]
  resources: [executions/status, functions/status]
  verbs: [patch]
- apiGroups: [kontinue.cloud]
  resources: [suspensions]
  verbs: [get, list, watch, create]
# read only: events sent to the executions it runs
- apiGroups: [kontinue.cloud]
  resources: [signals]
  verbs: [get, list, watch]
- apiGroups: [kontinue.cloud]
  resources: [functions]
  verbs: [get, create, patch]
# create: journal chunks (admission: labelled as such; never updated or deleted)
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, create]
# admission: the worker Leases of the worker's group only
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, patch, delete]
{{- if .Values.worker.jobSteps.enabled }}
# admission: job pods run as the allowed ServiceAccounts, never privileged or on the host
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

{{/*
The UI's own rights. With an auth mode the visitors' requests run with their own rights
(impersonated, or their token): the UI itself only watches executions for its list cache.
Without one it reads with its own rights, and acts with them only with anonymous actions.
*/}}
{{- define "kontinue.ui.rules" -}}
{{- if eq .Values.ui.auth.mode "none" }}
- apiGroups: [kontinue.cloud]
  resources: [executions, suspensions, functions, scheduledexecutions, signals]
  verbs: [get, list, watch]
- apiGroups: [kontinue.cloud]
  resources: [archivedexecutions]
  verbs: [get, list]
{{- if include "kontinue.ui.actions" . }}
# admission: only spec.cancel of an execution, spec.suspend of a schedule, and resumes that
# record the UI as who resumed
- apiGroups: [kontinue.cloud]
  resources: [executions]
  verbs: [create, patch]
- apiGroups: [kontinue.cloud]
  resources: [suspensions/status]
  verbs: [patch]
# send event: a Signal to an execution (as resume, an action on a running execution)
- apiGroups: [kontinue.cloud]
  resources: [signals]
  verbs: [create]
- apiGroups: [kontinue.cloud]
  resources: [scheduledexecutions]
  verbs: [patch]
- apiGroups: [kontinue.cloud]
  resources: [scheduledexecutions/finalizers]
  verbs: [update]
{{- end }}
{{- if not (include "kontinue.clusterWide" .) }}
{{ include "kontinue.ui.logRules" . }}
{{- end }}
{{- else }}
- apiGroups: [kontinue.cloud]
  resources: [executions]
  verbs: [get, list, watch]
{{- end }}
{{- end }}

{{/* Job logs (anonymous reads): in the workflow namespaces only. */}}
{{- define "kontinue.ui.logRules" -}}
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

{{/* The rights of people reading kontinue (bound by the operator, or aggregated into view). */}}
{{- define "kontinue.user.viewRules" -}}
- apiGroups: [kontinue.cloud]
  resources: [executions, suspensions, scheduledexecutions, functions, archivedexecutions, signals]
  verbs: [get, list, watch]
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

{{/* ... and of people running it: start, cancel, resume (as themselves), signal, trigger, suspend. */}}
{{- define "kontinue.user.editRules" -}}
{{ include "kontinue.user.viewRules" . }}
- apiGroups: [kontinue.cloud]
  resources: [executions]
  verbs: [create, patch]
- apiGroups: [kontinue.cloud]
  resources: [suspensions/status]
  verbs: [patch]
- apiGroups: [kontinue.cloud]
  resources: [signals]
  verbs: [create]
- apiGroups: [kontinue.cloud]
  resources: [scheduledexecutions]
  verbs: [create, patch, delete]
- apiGroups: [kontinue.cloud]
  resources: [scheduledexecutions/finalizers]
  verbs: [update]
{{- end }}

{{/*
Role and RoleBinding per namespace, or one ClusterRole and ClusterRoleBinding:
(dict "root" $ "component" "controller" "rules" "kontinue.controller.rules" "cluster" bool
"namespaces" list "suffix" ""). The suffix names a second set of the same component.
*/}}
{{- define "kontinue.rbac" -}}
{{- $root := .root }}
{{- $name := printf "%s%s" (include "kontinue.component.fullname" (list $root .component)) (.suffix | default "") }}
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
