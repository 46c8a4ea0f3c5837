{{/* Names, labels and small shared pieces of the hdra chart. */}}

{{- define "hdra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdra.fullname" -}}
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

{{- define "hdra.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "hdra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "hdra.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hdra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hdra.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* ServiceAccount names: one for all node plugins, one for the webhook, one for the controller. */}}
{{- define "hdra.pluginServiceAccount" -}}
{{- printf "%s-kubelet-plugin" (include "hdra.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdra.webhookServiceAccount" -}}
{{- printf "%s-webhook" (include "hdra.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdra.controllerServiceAccount" -}}
{{- printf "%s-controller" (include "hdra.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdra.webhookService" -}}
{{- printf "%s-webhook" (include "hdra.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdra.controllerService" -}}
{{- printf "%s-controller" (include "hdra.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdra.certSecret" -}}
{{- printf "%s-webhook-tls" (include "hdra.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hdra.certificate" -}}
{{- printf "%s-webhook" (include "hdra.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The pod security context of the non-root webhook/controller pod (the image's USER 10001). */}}
{{- define "hdra.restrictedContainerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Webhooks skip namespaces labelled hdra.io/webhook=ignore, plus the chart's own and kube-system. */}}
{{- define "hdra.webhookNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: hdra.io/webhook
      operator: NotIn
      values: ["ignore"]
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: [{{ .Release.Namespace | quote }}, "kube-system"]
{{- end -}}

{{- define "hdra.webhookObjectSelector" -}}
objectSelector:
  matchExpressions:
    - key: hdra.io/webhook
      operator: NotIn
      values: ["ignore"]
{{- end -}}

{{/* The caBundle / CA injection of the webhook configurations. */}}
{{- define "hdra.webhookCaAnnotations" -}}
{{- if .Values.webhook.certManager.enabled }}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "hdra.certificate" .) }}
{{- end }}
{{- end -}}

{{/* Non-empty when at least one vendor is enabled. */}}
{{- define "hdra.anyVendor" -}}
{{- range $vendor, $v := .Values.vendors }}{{ if $v.enabled }}{{ $vendor }}{{ end }}{{ end -}}
{{- end -}}
