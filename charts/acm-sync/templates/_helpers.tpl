{{/* The chart name, overridable. */}}
{{- define "acm-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: DNS-1123, at most 63 characters. */}}
{{- define "acm-sync.fullname" -}}
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

{{- define "acm-sync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "acm-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "acm-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "acm-sync.labels" -}}
helm.sh/chart: {{ include "acm-sync.chart" . }}
{{ include "acm-sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "acm-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "acm-sync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "acm-sync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Fail early on value combinations that would install a broken operator. The schema catches
most of them; these need cross-field checks.
*/}}
{{- define "acm-sync.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled: two active operators would race on ACM imports" }}
{{- end }}
{{- if and (eq .Values.watch.scope "namespaces") (empty .Values.watch.namespaces) }}
{{- fail "watch.scope=namespaces needs at least one entry in watch.namespaces" }}
{{- end }}
{{- $annotationMode := include "acm-sync.annotationMode" . }}
{{- if and (eq $annotationMode "selector") (not .Values.annotationNamespaceSelector) }}
{{- fail "annotationMode=selector needs annotationNamespaceSelector (a label selector such as acmsync.io/annotations=allowed)" }}
{{- end }}
{{- if and .Values.annotationNamespaceSelector (ne $annotationMode "selector") }}
{{- fail "annotationNamespaceSelector is used only with annotationMode=selector; set both or neither" }}
{{- end }}
{{- if and (include "acm-sync.webIdentity" . | fromJson).roleArn (hasKey .Values.serviceAccount.annotations "eks.amazonaws.com/role-arn") }}
{{- fail "aws.webIdentity.roleArn and the eks.amazonaws.com/role-arn annotation both ask for IRSA: on EKS keep the annotation (its webhook injects the same), elsewhere keep aws.webIdentity.roleArn" }}
{{- end }}
{{- $wiring := .Values.wiring | default dict }}
{{- if and $wiring.enabled (not ($wiring.region | default .Values.aws.region)) }}
{{- fail "wiring.enabled needs wiring.region (or aws.region): the load balancers' region" }}
{{- end }}
{{- $np := .Values.networkPolicy | default dict }}
{{- if $np.enabled }}
{{- if empty $np.apiServer.cidrs }}
{{- fail "networkPolicy.enabled needs networkPolicy.apiServer.cidrs: the API server's endpoint addresses (kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes)" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (kindIs "invalid" $np.metricsNamespaceSelector) }}
{{- fail "networkPolicy.enabled with metrics.serviceMonitor.enabled needs networkPolicy.metricsNamespaceSelector, or Prometheus cannot scrape the operator" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
aws.webIdentity with its defaults, as JSON (roleArn, audience, expirationSeconds): values of a
release from before it (helm upgrade --reuse-values) have none.
*/}}
{{- define "acm-sync.webIdentity" -}}
{{- $given := .Values.aws.webIdentity | default dict }}
{{- $defaults := dict "roleArn" "" "audience" "sts.amazonaws.com" "expirationSeconds" 86400 }}
{{- merge (deepCopy $given) $defaults | toJson }}
{{- end }}

{{/*
Values added after the first release default here as well: `helm upgrade --reuse-values`
renders with the previous release's values, which do not have them.
*/}}
{{- define "acm-sync.annotationMode" -}}
{{ .Values.annotationMode | default "all" }}
{{- end }}

{{/* The --adoption mode: adoption.enabled=false (the older value) means off. */}}
{{- define "acm-sync.adoptionMode" -}}
{{- if .Values.adoption.enabled }}{{ .Values.adoption.mode | default "tagged" }}{{ else }}off{{ end }}
{{- end }}

{{/* Whether the operator reads namespace labels: annotation mode limited by a selector. */}}
{{- define "acm-sync.readsNamespaceLabels" -}}
{{- if eq (include "acm-sync.annotationMode" .) "selector" }}true{{ end }}
{{- end }}

{{/*
The rules the operator needs on namespaced resources, shared by the ClusterRole (cluster
scope) and the per-namespace Roles. Secrets are read-only: the operator never writes one.
*/}}
{{- define "acm-sync.namespacedRules" -}}
- apiGroups: ["acmsync.io"]
  resources: ["acmcertificates"]
  # patch/update: the finalizer and kopf's progress annotations. create/delete: annotation
  # mode generates an AcmCertificate for a Secret annotated acmsync.io/regions, and removes it
  # when the annotation goes.
  verbs: ["get", "list", "watch", "patch", "update", "create", "delete"]
- apiGroups: ["acmsync.io"]
  resources: ["acmcertificates/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if (.Values.wiring | default dict).enabled }}
# Wiring: the load balancer annotations of opted-in Ingresses and Services (never their spec).
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end }}

{{/*
The cluster-scoped reads the operator may need, `get` on namespaces only (it never lists or
watches them): the labels of a Secret's namespace with annotationMode=selector; otherwise,
without a clusterId value, the uid of kube-system (the default cluster id), and only that
namespace.
*/}}
{{- define "acm-sync.clusterReadRules" -}}
{{- if include "acm-sync.readsNamespaceLabels" . }}
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
{{- else if not .Values.clusterId }}
- apiGroups: [""]
  resources: ["namespaces"]
  resourceNames: ["kube-system"]
  verbs: ["get"]
{{- end }}
{{- end }}

{{/* The host part of --metrics-bind-address: an IPv6 address goes in brackets. */}}
{{- define "acm-sync.metricsBindHost" -}}
{{- $host := .Values.metrics.bindAddress | default "" -}}
{{- if contains ":" $host -}}[{{ $host }}]{{- else -}}{{ $host }}{{- end -}}
{{- end }}
