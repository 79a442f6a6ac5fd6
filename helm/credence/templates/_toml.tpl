{{/*
A small TOML writer for the `config` values tree (credence.toml).

  {{ include "credence.toml" $map }}

Maps are tables, lists of maps are arrays of tables ([[inputs]]), other lists are inline arrays.
Keys are sorted; in each table its plain keys come first, then its sub-tables, then its arrays of
tables, each under a header with its full dotted path, so the output is valid TOML whatever the
nesting. Keys that are not bare (a-z A-Z 0-9 _ -) are quoted: "socket.keepalive.enable".
Strings are basic strings (JSON escapes are TOML escapes; DEL, which JSON leaves alone, is
escaped too). Numbers without a fraction are integers (Helm reads YAML numbers as floats: 5 must
not become 5.0, which the daemon would refuse for an integer setting). null values are left out,
so the daemon's default applies. An inline table (a map inside a list that also holds other
things) is refused.
*/}}
{{- define "credence.toml" -}}
{{- include "credence.toml.table" (dict "table" . "path" "") | trim -}}
{{- end -}}

{{- define "credence.toml.table" -}}
{{- $path := .path -}}
{{- range $k, $v := .table -}}
{{- if not (or (kindIs "invalid" $v) (kindIs "map" $v) (include "credence.toml.isTableArray" $v)) }}
{{ include "credence.toml.key" $k }} = {{ include "credence.toml.value" $v }}
{{- end -}}
{{- end -}}
{{- range $k, $v := .table -}}
{{- if kindIs "map" $v -}}
{{- $p := include "credence.toml.path" (list $path $k) }}

[{{ $p }}]
{{- include "credence.toml.table" (dict "table" $v "path" $p) -}}
{{- end -}}
{{- end -}}
{{- range $k, $v := .table -}}
{{- if include "credence.toml.isTableArray" $v -}}
{{- $p := include "credence.toml.path" (list $path $k) -}}
{{- range $item := $v }}

[[{{ $p }}]]
{{- include "credence.toml.table" (dict "table" $item "path" $p) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "true" for a non-empty list of maps only; a list mixing maps and other values fails. */}}
{{- define "credence.toml.isTableArray" -}}
{{- if and (kindIs "slice" .) (gt (len .) 0) -}}
{{- $maps := 0 -}}
{{- range . -}}{{- if kindIs "map" . -}}{{- $maps = add1 $maps -}}{{- end -}}{{- end -}}
{{- if eq $maps (len .) -}}true
{{- else if gt $maps 0 -}}{{- fail (printf "config: a list mixes tables and values, which TOML cannot write: %s" (toJson .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "credence.toml.path" -}}
{{- $parent := index . 0 -}}
{{- if $parent -}}{{- $parent -}}.{{- end -}}{{- include "credence.toml.key" (index . 1) -}}
{{- end -}}

{{- define "credence.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{- . -}}{{- else -}}{{- include "credence.toml.string" . -}}{{- end -}}
{{- end -}}

{{- define "credence.toml.string" -}}
{{- toJson . | replace "\u007f" "\\u007f" -}}
{{- end -}}

{{- define "credence.toml.value" -}}
{{- if kindIs "string" . -}}
{{- include "credence.toml.string" . -}}
{{- else if kindIs "bool" . -}}
{{- ternary "true" "false" . -}}
{{- else if or (kindIs "int" .) (kindIs "int64" .) (kindIs "int32" .) (kindIs "uint64" .) (kindIs "uint32" .) (kindIs "uint" .) -}}
{{- printf "%d" . -}}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) -}}
{{- if and (le (float64 .) 9007199254740992.0) (ge (float64 .) -9007199254740992.0) (eq (float64 .) (float64 (int64 .))) -}}
{{- printf "%d" (int64 .) -}}
{{- else -}}
{{- $s := printf "%v" . -}}
{{- if regexMatch "^-?[0-9]+$" $s -}}{{- $s -}}.0{{- else -}}{{- $s -}}{{- end -}}
{{- end -}}
{{- else if kindIs "slice" . -}}
[{{- range $i, $e := . -}}{{- if $i -}}, {{ end -}}
{{- if kindIs "map" $e -}}{{- fail (printf "config: a table inside a list of values cannot be written: %s" (toJson $e)) -}}{{- end -}}
{{- if kindIs "invalid" $e -}}{{- fail "config: a list holds null, which TOML cannot write" -}}{{- end -}}
{{- include "credence.toml.value" $e -}}
{{- end -}}]
{{- else -}}
{{- fail (printf "config: cannot write %v (%s) as TOML" . (kindOf .)) -}}
{{- end -}}
{{- end -}}
