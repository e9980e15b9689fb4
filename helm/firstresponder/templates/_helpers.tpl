{{/*
Names, labels and the pieces every template shares.
*/}}

{{/* The chart name (nameOverride wins). */}}
{{- define "firstresponder.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full resource name: <release>-<name>, or the release alone when it contains the name. */}}
{{- define "firstresponder.fullname" -}}
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

{{/* chart label value: name-version. */}}
{{- define "firstresponder.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels selecting the daemon's pods (Deployment, Service, PDB). Never change them on upgrade. */}}
{{- define "firstresponder.selectorLabels" -}}
app.kubernetes.io/name: {{ include "firstresponder.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{/* Labels on every resource. */}}
{{- define "firstresponder.labels" -}}
helm.sh/chart: {{ include "firstresponder.chart" . }}
{{ include "firstresponder.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: firstresponder
{{- end }}

{{/* The ServiceAccount the daemon runs as. */}}
{{- define "firstresponder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "firstresponder.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "firstresponder.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the store is SQLite, "" otherwise. */}}
{{- define "firstresponder.isSqlite" -}}
{{- if hasPrefix "sqlite" (toString .Values.config.store.url) }}true{{ end }}
{{- end }}

{{/*
The environment variable each entry of .Values.secrets sets (a YAML map; the config reads
them with ${NAME}). values.schema.json lists the same keys.
*/}}
{{- define "firstresponder.secretEnvNames" -}}
webhookToken: FIRSTRESPONDER_WEBHOOK_TOKEN
apiToken: FIRSTRESPONDER_API_TOKEN
postgresqlUrl: FIRSTRESPONDER_STORE_URL
pagerdutyRoutingKeyEoc: FIRSTRESPONDER_PAGERDUTY_ROUTING_KEY_EOC
pagerdutyRoutingKeyImoc: FIRSTRESPONDER_PAGERDUTY_ROUTING_KEY_IMOC
pagerdutyRoutingKeyCmoc: FIRSTRESPONDER_PAGERDUTY_ROUTING_KEY_CMOC
pagerdutyApiToken: FIRSTRESPONDER_PAGERDUTY_API_TOKEN
pagerdutyWebhookSecret: FIRSTRESPONDER_PAGERDUTY_WEBHOOK_SECRET
slackBotToken: FIRSTRESPONDER_SLACK_BOT_TOKEN
slackSigningSecret: FIRSTRESPONDER_SLACK_SIGNING_SECRET
grafanaOncallToken: FIRSTRESPONDER_GRAFANA_ONCALL_TOKEN
{{- end }}

{{/* The container's env: one secretKeyRef per secret reference with a name, then extraEnv. */}}
{{- define "firstresponder.env" -}}
{{- $names := include "firstresponder.secretEnvNames" . | fromYaml }}
{{- range $key, $ref := .Values.secrets }}
{{- if $ref.name }}
- name: {{ required (printf "secrets.%s is not a known secret" $key) (get $names $key) }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name | quote }}
      key: {{ $ref.key | quote }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The daemon's config file: .Values.config, with rules_dir pointing at the mounted rules. */}}
{{- define "firstresponder.configYaml" -}}
{{- $config := deepCopy .Values.config }}
{{- if .Values.rules }}
{{- $_ := set $config "rules_dir" "rules" }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
The ConfigMap's data: config.yaml and one rules.<file> key per rule file (ConfigMap keys
cannot hold "/"; the volume's items put them under rules/). Also hashed into the pods'
checksum/config annotation, so any change rolls them.
*/}}
{{- define "firstresponder.configData" -}}
config.yaml: |
  {{- include "firstresponder.configYaml" . | nindent 2 }}
{{- range $file, $content := .Values.rules }}
rules.{{ $file }}: {{ $content | toJson }}
{{- end }}
{{- end }}

{{/* The config volume's items: config.yaml at the top, rule files under rules/. */}}
{{- define "firstresponder.configItems" -}}
- key: config.yaml
  path: config.yaml
{{- range $file, $content := .Values.rules }}
- key: rules.{{ $file }}
  path: rules/{{ $file }}
{{- end }}
{{- end }}

{{/*
Refuse values that cannot work. values.schema.json checks most of these too; the templates
check again because a schema can be skipped (--skip-schema-validation) or be older than
the templates.
*/}}
{{- define "firstresponder.validate" -}}
{{- $sqlite := include "firstresponder.isSqlite" . }}
{{- if and $sqlite (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount is %d but config.store.url is SQLite: SQLite is one file used by one process. Set config.store.url to \"${FIRSTRESPONDER_STORE_URL}\" with secrets.postgresqlUrl (PostgreSQL), or replicaCount: 1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and $sqlite .Values.migrationJob.enabled }}
{{- fail "migrationJob.enabled needs PostgreSQL: on SQLite the pod migrates at start-up and the hook could not mount its volume." }}
{{- end }}
{{- if and $sqlite (not (hasPrefix "/var/lib/firstresponder/" (trimPrefix "sqlite:///" (regexReplaceAll "^sqlite(\\+\\w+)?" (toString .Values.config.store.url) "sqlite")))) }}
{{- fail (printf "config.store.url %q: a SQLite database must live on the data volume, e.g. sqlite:////var/lib/firstresponder/firstresponder.db (the root filesystem is read-only)." .Values.config.store.url) }}
{{- end }}
{{- if hasKey .Values.config "rules_dir" }}
{{- fail "config.rules_dir is set by the chart; put rule files under `rules` instead." }}
{{- end }}
{{- $listen := toString (dig "server" "listen" "" .Values.config) }}
{{- if not (hasSuffix (printf ":%d" (int .Values.containerPort)) $listen) }}
{{- fail (printf "config.server.listen %q must end with :%d (containerPort), e.g. \"0.0.0.0:%d\"." $listen (int .Values.containerPort) (int .Values.containerPort)) }}
{{- end }}
{{- $configText := include "firstresponder.configYaml" . }}
{{- $names := include "firstresponder.secretEnvNames" . | fromYaml }}
{{- $extra := list }}
{{- range .Values.extraEnv }}{{ $extra = append $extra .name }}{{ end }}
{{- if not .Values.extraEnvFrom }}
{{- range $key, $env := $names }}
{{- $ref := get $.Values.secrets $key }}
{{- if and (contains (printf "${%s}" $env) $configText) (not $ref.name) (not (has $env $extra)) }}
{{- fail (printf "config uses ${%s} but secrets.%s.name is empty: name the Secret that holds it." $env $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
