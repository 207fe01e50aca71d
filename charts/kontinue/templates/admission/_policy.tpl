{{/*
A ValidatingAdmissionPolicyBinding that denies what its policy refuses:
(list $ "<policy name>" namespaced-bool). Namespaced bindings match the workflow namespaces
only (namespaced scope); the others every namespace.
*/}}
{{- define "kontinue.policyBinding" -}}
{{- $root := index . 0 }}
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {{ index . 1 }}
  labels:
    {{- include "kontinue.labels" $root | nindent 4 }}
spec:
  policyName: {{ index . 1 }}
  validationActions: [Deny]
  {{- if and (index . 2) (not (include "kontinue.clusterWide" $root)) }}
  matchResources:
    namespaceSelector:
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: In
          values:
            {{- toYaml (include "kontinue.allWorkflowNamespaces" $root | fromJsonArray) | nindent 12 }}
  {{- end }}
{{- end }}
