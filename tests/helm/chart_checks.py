"""Checks of the rendered Helm chart, called by tests/helm/check.sh (run with the venv's python,
which has kubernetes-validate, jsonschema and PyYAML).

  case --manifests V=MANIFEST[,V=MANIFEST] --values FILE[,FILE] --crds DIR --out DIR --rules FILE
       --dashboard FILE
      Validates every resource rendered for Kubernetes V against V's schemas (Kubernetes JSON schemas, strict; custom resources
      against their CRDs' OpenAPI schemas, made strict), checks the chart's invariants, and writes
      DIR/credence.toml and DIR/env (the container's environment as the pod would have it, with
      dummy secret values) for `credence check-config`. Prints one JSON summary line last.
  annotation MANIFEST KEY           prints the Deployment's pod template annotation KEY
  kinds MANIFEST                    prints the kinds rendered, one a line
  example-values EXAMPLE_TOML       prints a values file whose `config` is the example's
  values-table VALUES SCHEMA        prints the Markdown table of every value (for README.md)
  documented VALUES SCHEMA [README] checks that every key of a closed object in VALUES has a comment
                                    line right above it, and that VALUES lists every property of
                                    every closed object of SCHEMA (a value nobody can find is not
                                    documented), and that README's values table is up to date
  compare-toml RENDERED VALUES...   checks that RENDERED (a credence.toml from the chart) holds
                                    exactly the merged `config` of the values files, nulls left
                                    out, plus the keys the chart adds itself

Every failed check is printed as `FAIL ...`; the exit code is 1 if any failed.
"""

import copy
import glob
import json
import os
import re
import sys
import tomllib

import jsonschema
import kubernetes_validate
import yaml

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print(f"FAIL {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def name_of(doc):
    return f"{doc['kind']}/{doc['metadata']['name']}"


# -- custom resources --------------------------------------------------------------------------


def strict(schema):
    """The CRD schema with unknown fields refused, as the API server's strict field validation
    does (it prunes them otherwise): additionalProperties false wherever properties are listed
    and unknown fields are not explicitly preserved."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def load_crds(directory):
    """{(apiVersion, kind): strict schema} from every CRD YAML in directory."""
    crds = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        for crd in load_docs(path):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                api = f"{spec['group']}/{version['name']}"
                crds[(api, spec["names"]["kind"])] = strict(version["schema"]["openAPIV3Schema"])
    return crds


def validate_custom(doc, schema, version):
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    # CRD schemas leave metadata open: check it as the ObjectMeta it is.
    meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc.get("metadata", {})}
    try:
        kubernetes_validate.validate(meta, version, strict=True)
    except kubernetes_validate.utils.ValidationError as e:
        errors.append(e)
    return ["%s: %s" % (".".join(str(p) for p in e.path) or "(root)", e.message) for e in errors]


# -- one rendered values file --------------------------------------------------------------------


def validate_all(docs, crds, versions):
    counts = {"kubernetes": 0, "custom": 0}
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        for version in versions:
            if key in crds:
                problems = validate_custom(doc, crds[key], version)
                what = "custom"
            else:
                what = "kubernetes"
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                    problems = []
                except kubernetes_validate.utils.SchemaNotFoundError:
                    problems = [f"no schema for {doc['apiVersion']} {doc['kind']} (neither Kubernetes {version} nor a fetched CRD)"]
                except kubernetes_validate.utils.ValidationError as e:
                    problems = ["%s: %s" % (".".join(str(p) for p in e.path) or "(root)", e.message)]
            for p in problems:
                fail(f"{name_of(doc)} against {'its CRD' if what == 'custom' else 'Kubernetes'} {version}: {p}")
            if not problems:
                counts[what] += 1
    return counts


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    found = by_kind(docs, kind)
    check(len(found) == 1, f"expected one {kind}, found {len(found)}")
    return found[0] if found else None


def merged(*dicts):
    out = {}
    for d in dicts:
        out.update(d or {})
    return out


def invariants(docs, values, out_dir, rules_path, dashboard_path):
    """The chart's promises, checked on what it rendered."""
    labels = ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
              "app.kubernetes.io/managed-by", "helm.sh/chart"]
    for doc in docs:
        have = doc["metadata"].get("labels", {})
        for label in labels:
            check(label in have, f"{name_of(doc)}: no {label} label")

    dep = one(docs, "Deployment")
    cm = [d for d in by_kind(docs, "ConfigMap") if "credence.toml" in d.get("data", {})]
    check(len(cm) == 1, f"expected one ConfigMap with credence.toml, found {len(cm)}")
    if dep is None or not cm:
        return None
    toml_text = cm[0]["data"]["credence.toml"]
    try:
        config = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as e:
        fail(f"credence.toml does not parse as TOML: {e}")
        return None

    pod = dep["spec"]["template"]
    spec = pod["spec"]
    containers = spec["containers"]
    check(len(containers) == 1, "one container expected")
    c = containers[0]
    psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
    eff = merged(psc, csc)  # the container's settings win

    check(eff.get("runAsNonRoot") is True, "runAsNonRoot is not true")
    uid = eff.get("runAsUser")
    check(isinstance(uid, int) and uid > 0, f"runAsUser must be a fixed non-root UID, is {uid!r}")
    gid = eff.get("runAsGroup")
    check(isinstance(gid, int) and gid > 0, f"runAsGroup must be a fixed non-root GID, is {gid!r}")
    check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    check(csc.get("privileged") in (None, False), "the container is privileged")
    check("ALL" in csc.get("capabilities", {}).get("drop", []), "capabilities.drop lacks ALL")
    check(not csc.get("capabilities", {}).get("add"), "capabilities are added")
    check(eff.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccompProfile is not RuntimeDefault")
    check(spec.get("automountServiceAccountToken") is False, "automountServiceAccountToken is not false on the pod")
    for sa in by_kind(docs, "ServiceAccount"):
        check(sa.get("automountServiceAccountToken") is False, f"{name_of(sa)}: automountServiceAccountToken is not false")
    check(spec.get("hostNetwork") in (None, False) and spec.get("hostPID") in (None, False), "host namespaces used")

    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            check(r in res.get(kind, {}), f"resources.{kind}.{r} missing")

    shutdown = config.get("daemon", {}).get("shutdown_timeout_secs", 20)
    grace = spec.get("terminationGracePeriodSeconds", 30)
    check(grace > shutdown, f"terminationGracePeriodSeconds {grace} is not above the daemon's shutdown_timeout_secs {shutdown}")

    listen = config.get("admin", {}).get("listen_addr", "0.0.0.0:9464")
    admin_port = int(listen.rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(ports.get("admin") == admin_port, f"container port admin {ports.get('admin')} != admin.listen_addr port {admin_port}")
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        p = c.get(probe)
        if check(p is not None, f"{probe} missing"):
            check(p.get("httpGet", {}).get("path") == path and p["httpGet"].get("port") in ("admin", admin_port),
                  f"{probe} is not GET {path} on the admin port")
    for svc in by_kind(docs, "Service"):
        check([p.get("targetPort") for p in svc["spec"]["ports"]] == ["admin"], f"{name_of(svc)}: target port is not admin")

    ann = pod["metadata"].get("annotations", {})
    check(re.fullmatch(r"[0-9a-f]{64}", ann.get("checksum/config", "")) is not None, "no sha256 checksum/config annotation")

    env = {e["name"]: e for e in c.get("env", [])}
    inst = env.get("CREDENCE_ALERTS__INSTANCE", {})
    check(inst.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
          "CREDENCE_ALERTS__INSTANCE does not come from metadata.name")
    secretish = re.compile(r"PASSWORD|SECRET|PSEUDONYM_KEY|TOKEN|_KEY$")
    for name, e in env.items():
        if secretish.search(name):
            check("value" not in e and "secretKeyRef" in e.get("valueFrom", {}),
                  f"env {name} is not taken from a Secret")
    lowered = toml_text.lower()
    for word in ("sasl.password", "ssl.key.password", "ssl.key.pem", "client.secret"):
        check(word not in lowered, f"credence.toml mentions {word}")

    # The pseudonymisation key: exactly one of the two ways, by reference.
    pk = values.get("pseudonymKey", {})
    key_file = config.get("pseudonym", {}).get("key_file")
    if "CREDENCE_PSEUDONYM_KEY" in env:
        check(key_file is None, "both CREDENCE_PSEUDONYM_KEY and pseudonym.key_file")
        ref = env["CREDENCE_PSEUDONYM_KEY"]["valueFrom"]["secretKeyRef"]
        check(ref["name"] == pk.get("existingSecret"), "CREDENCE_PSEUDONYM_KEY refers to another Secret")
    else:
        check(key_file is not None, "no pseudonymisation key: neither CREDENCE_PSEUDONYM_KEY nor pseudonym.key_file")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        d = os.path.dirname(key_file or "")
        m = mounts.get(d)
        if check(m is not None, f"nothing mounted at {d} for pseudonym.key_file"):
            check(m.get("readOnly") is True, "the key volume is not read-only")
            secret = vols.get(m["name"], {}).get("secret", {})
            check(secret.get("secretName") == pk.get("existingSecret"), "the key volume is not the given Secret")
            check(os.path.basename(key_file) in [i["path"] for i in secret.get("items", [])],
                  "the key file is not among the Secret's items")
    # Every file the configuration points at is on a mounted volume.
    mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
    lib = config.get("kafka", {}).get("librdkafka", {})
    for opt in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location"):
        if opt in lib:
            check(any(lib[opt].startswith(mp + "/") for mp in mounts), f"{opt} {lib[opt]} is on no mounted volume")
    f = config.get("alerts", {}).get("file")
    if f and f != "-":
        check(os.path.dirname(f) in mounts, f"alerts.file {f}: its directory is not a mounted (writable) volume")

    # Monitoring: the job label the rules select on, and the rules and dashboard as shipped.
    with open(rules_path) as fh:
        rules = yaml.safe_load(fh)
    job_regexes = set(re.findall(r'job=~"([^"]*)"', open(rules_path).read()))
    for mon in by_kind(docs, "ServiceMonitor") + by_kind(docs, "PodMonitor"):
        eps = mon["spec"].get("endpoints") or mon["spec"].get("podMetricsEndpoints")
        for ep in eps:
            check(ep.get("port") == "admin" and ep.get("path") == "/metrics", f"{name_of(mon)}: not scraping admin /metrics")
            jobs = [r.get("replacement") for r in ep.get("relabelings", []) if r.get("targetLabel") == "job"]
            check(len(jobs) == 1, f"{name_of(mon)}: no job relabeling")
            for rx in job_regexes:
                for job in jobs:
                    check(re.fullmatch(rx, job or "") is not None,
                          f"{name_of(mon)}: job {job!r} does not match the rules' job=~\"{rx}\"")
    for pr in by_kind(docs, "PrometheusRule"):
        want = sum(len(g["rules"]) for g in rules["groups"])
        got = sum(len(g["rules"]) for g in pr["spec"]["groups"])
        check(got == want, f"{name_of(pr)}: {got} rules, the file has {want}")
        extra = values.get("prometheusRule", {}).get("additionalRuleLabels", {})
        exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
        check(exprs == [r["expr"] for g in pr["spec"]["groups"] for r in g["rules"]], f"{name_of(pr)}: expressions differ from the file")
        for g in pr["spec"]["groups"]:
            for r in g["rules"]:
                if "alert" in r:
                    for k, v in extra.items():
                        check(r.get("labels", {}).get(k) == v, f"{name_of(pr)}: alert {r['alert']} lacks label {k}={v}")
    dash = values.get("dashboard", {})
    for cmd in [d for d in by_kind(docs, "ConfigMap") if "credence.json" in d.get("data", {})]:
        with open(dashboard_path) as fh:
            check(json.loads(cmd["data"]["credence.json"]) == json.load(fh), f"{name_of(cmd)}: not the dashboard file")
        check(cmd["metadata"]["labels"].get(dash.get("label", "grafana_dashboard")) == str(dash.get("labelValue", "1")),
              f"{name_of(cmd)}: no sidecar label")

    # Scaling: never both, and never above the partition count.
    hpas, scaled = by_kind(docs, "HorizontalPodAutoscaler"), by_kind(docs, "ScaledObject")
    check(not (hpas and scaled), "both a HorizontalPodAutoscaler and a ScaledObject")
    if hpas or scaled:
        check("replicas" not in dep["spec"], "an autoscaled Deployment sets replicas")
    parts = values.get("partitionCount")
    if parts is not None:
        for h in hpas:
            check(h["spec"]["maxReplicas"] <= parts, "HPA maxReplicas above partitionCount")
        for s in scaled:
            check(s["spec"]["maxReplicaCount"] <= parts, "ScaledObject maxReplicaCount above partitionCount")
            for t in s["spec"]["triggers"]:
                check(t["metadata"].get("allowIdleConsumers") == "false", "KEDA may add idle consumers")
        if "replicas" in dep["spec"]:
            check(dep["spec"]["replicas"] <= parts, "replicas above partitionCount")
    for s in scaled:
        topics = [t for i in config["inputs"] for t in i["topics"]]
        check(sorted(t["metadata"]["topic"] for t in s["spec"]["triggers"]) == sorted(topics),
              "ScaledObject triggers are not one per input topic")
        for t in s["spec"]["triggers"]:
            check(t["metadata"]["consumerGroup"] == config["kafka"].get("group_id", "credence"), "KEDA watches another group")

    for np in by_kind(docs, "NetworkPolicy"):
        ingress = np["spec"].get("ingress", [])
        check(all([p.get("port") for p in r.get("ports", [])] == ["admin"] for r in ingress) and ingress,
              f"{name_of(np)}: ingress is not limited to the admin port")
        check("Egress" in np["spec"]["policyTypes"], f"{name_of(np)}: egress not restricted")

    # The environment of the container, for check-config: secrets replaced by dummies.
    os.makedirs(out_dir, exist_ok=True)
    lines = []
    for name, e in env.items():
        if "value" in e:
            v = e["value"]
        elif "fieldRef" in e.get("valueFrom", {}):
            v = "credence-7d9f8c6b5-x2x4k"
        elif name == "CREDENCE_PSEUDONYM_KEY":
            v = "ab" * 32
        elif "secretKeyRef" in e.get("valueFrom", {}) and name.endswith("_URL"):
            # A sink's URL held in a Secret: check-config wants a URL.
            v = f"https://dummy.invalid/{e['valueFrom']['secretKeyRef']['key']}"
        elif "secretKeyRef" in e.get("valueFrom", {}):
            v = f"dummy-{e['valueFrom']['secretKeyRef']['key']}"
        else:
            continue
        check("\n" not in v, f"env {name} has a newline")
        lines.append(f"{name}={v}")
    if key_file is not None:
        # The Secret is not mounted here: point the daemon's own override at a dummy key file.
        path = os.path.join(out_dir, "pseudonym.key")
        with open(path, "w") as fh:
            fh.write("cd" * 32 + "\n")
        lines.append(f"CREDENCE_PSEUDONYM__KEY_FILE={path}")
    with open(os.path.join(out_dir, "env"), "w") as fh:
        fh.write("".join(line + "\n" for line in lines))
    with open(os.path.join(out_dir, "credence.toml"), "w") as fh:
        fh.write(toml_text)
    return config


def cmd_case(args):
    opts = dict(zip(args[0::2], args[1::2]))
    values = {}
    for path in opts["--values"].split(","):
        with open(path) as fh:
            deep_merge(values, yaml.safe_load(fh) or {})
    crds = load_crds(opts["--crds"])
    counts = {"kubernetes": 0, "custom": 0}
    versions = []
    # VERSION=MANIFEST,...: each rendered for that Kubernetes version, validated against it.
    for pair in opts["--manifests"].split(","):
        version, manifest = pair.split("=", 1)
        versions.append(version)
        docs = load_docs(manifest)
        for k, n in validate_all(docs, crds, [version]).items():
            counts[k] += n
        invariants(docs, values, opts["--out"], opts["--rules"], opts["--dashboard"])
    kinds = {}
    for d in docs:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    print(json.dumps({"resources": len(docs), "kinds": kinds, "validated_kubernetes": counts["kubernetes"],
                      "validated_custom": counts["custom"], "versions": versions, "failures": len(FAILURES)}))


def deep_merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def drop_nulls(x):
    if isinstance(x, dict):
        return {k: drop_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [drop_nulls(v) for v in x]
    return x


def cmd_example_values(args):
    with open(args[0], "rb") as fh:
        example = tomllib.load(fh)
    print("# Generated by tests/helm/chart_checks.py from credence.example.toml.")
    print(yaml.safe_dump({
        "pseudonymKey": {"existingSecret": "credence-pseudonym", "mountAsFile": False},
        "config": example,
    }, sort_keys=True))


def cmd_compare_toml(args):
    with open(args[0], "rb") as fh:
        rendered = tomllib.load(fh)
    chart_values = os.path.join(os.path.dirname(__file__), "..", "..", "helm", "credence", "values.yaml")
    values = {}
    for path in [chart_values] + args[1:]:
        with open(path) as fh:
            deep_merge(values, yaml.safe_load(fh) or {})
    want = drop_nulls(values["config"])
    # What the chart adds of its own.
    if values.get("pseudonymKey", {}).get("mountAsFile", True):
        want.setdefault("pseudonym", {})["key_file"] = "/etc/credence/pseudonym/" + values["pseudonymKey"].get("key", "key")
    lib = want.setdefault("kafka", {}).setdefault("librdkafka", {})
    kafka = values.get("kafka", {})
    sasl, tls = kafka.get("sasl", {}).get("enabled"), kafka.get("tls", {}).get("enabled")
    if sasl or tls:
        lib["security.protocol"] = {(True, True): "SASL_SSL", (True, False): "SASL_PLAINTEXT"}.get((bool(sasl), bool(tls)), "SSL")
    if sasl:
        lib["sasl.mechanisms"] = kafka["sasl"].get("mechanism", "SCRAM-SHA-512")
    if tls and kafka["tls"].get("existingSecret"):
        for opt, key in (("ssl.ca.location", "caKey"), ("ssl.certificate.location", "certKey"), ("ssl.key.location", "keyKey")):
            if kafka["tls"].get(key):
                lib[opt] = "/etc/credence/tls/" + kafka["tls"][key]
    if rendered != want:
        fail("the rendered credence.toml differs from the values' config")
        print("  rendered: " + json.dumps(rendered, sort_keys=True))
        print("  wanted:   " + json.dumps(want, sort_keys=True))
    else:
        print(f"{args[0]}: the TOML holds exactly the values' config ({count_leaves(want)} settings)")


def count_leaves(x):
    if isinstance(x, dict):
        return sum(count_leaves(v) for v in x.values())
    if isinstance(x, list) and x and all(isinstance(v, dict) for v in x):
        return sum(count_leaves(v) for v in x)
    return 1


def resolve(schema, node):
    while isinstance(node, dict) and "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    if isinstance(node, dict) and "oneOf" in node:
        objs = [resolve(schema, n) for n in node["oneOf"]]
        objs = [o for o in objs if o.get("type") == "object"]
        return objs[0] if objs else node
    return node


def closed(node):
    return isinstance(node, dict) and node.get("type") == "object" and node.get("additionalProperties") is False


def values_entries(values_path, schema):
    """(line, path, comment, parent schema) for each key of a closed object in values.yaml, with
    the comment lines right above it (joined), in file order."""
    with open(values_path) as fh:
        lines = fh.read().splitlines()
    stack = []  # (indent, key)
    list_indent = None
    comment = []
    entries = []
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        indent = len(line) - len(line.lstrip())
        if list_indent is not None and (indent > list_indent or (indent == list_indent and stripped.startswith("- "))):
            comment = []
            continue
        list_indent = None
        if stripped.startswith("- "):
            list_indent = indent
            comment = []
            continue
        m = re.match(r"^([^:#]+):(\s|$)", stripped)
        if not m:
            comment = []
            continue
        key = m.group(1).strip().strip('"')
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [k for _, k in stack]
        parent = schema
        for k in path:
            parent = resolve(schema, parent.get("properties", {}).get(k, {})) if closed(parent) else None
            if parent is None:
                break
        if parent is not None and closed(parent):
            entries.append((n, path + [key], " ".join(comment), parent))
        stack.append((indent, key))
        comment = []
    return entries


def cmd_documented(args):
    with open(args[1]) as fh:
        schema = json.load(fh)
    entries = values_entries(args[0], schema)
    seen = set()
    for n, path, comment, parent in entries:
        seen.add(tuple(path))
        if path[-1] not in parent["properties"]:
            fail(f"values.yaml:{n}: {'.'.join(path)} is not in the schema")
        if not comment:
            fail(f"values.yaml:{n}: {'.'.join(path)} has no comment")

    def walk(node, path):
        node = resolve(schema, node)
        if not closed(node):
            return
        for k, sub in node["properties"].items():
            if path == [] and k == "global":
                continue
            if tuple(path + [k]) not in seen:
                fail(f"{'.'.join(path + [k])} is in the schema but not in values.yaml")
            else:
                walk(sub, path + [k])

    walk(schema, [])
    if len(args) > 2:
        # The README's values table is the one values-table prints.
        with open(args[2]) as fh:
            readme = fh.read()
        table = values_table(args[0], schema)
        m = re.search(r"<!-- values-table -->\n(.*?)<!-- /values-table -->", readme, re.S)
        if not m:
            fail(f"{args[2]}: no <!-- values-table --> ... <!-- /values-table --> block")
        elif m.group(1) != table:
            fail(f"{args[2]}: the values table is out of date: "
                 f"python3 tests/helm/chart_checks.py values-table {args[0]} {args[1]}")
    if not FAILURES:
        print(f"values.yaml documents all {len(entries)} values of the schema's closed objects, each with a "
              f"comment{', and README.md tables them' if len(args) > 2 else ''}")


def values_table(values_path, schema):
    with open(values_path) as fh:
        values = yaml.safe_load(fh)
    rows = ["| value | default | description |", "|---|---|---|"]
    for _, path, comment, parent in values_entries(values_path, schema):
        node = resolve(schema, parent["properties"].get(path[-1], {}))
        default = values
        for k in path:
            default = default[k]
        cell = comment.replace("|", "\\|")
        if closed(node) and node["properties"]:
            # A section: its values follow.
            rows.append(f"| **`{'.'.join(path)}`** | | {cell} |")
            continue
        shown = json.dumps(default, separators=(", ", ": "), ensure_ascii=False).replace("|", "\\|")
        rows.append(f"| `{'.'.join(path)}` | `{shown}` | {cell} |")
    return "\n".join(rows) + "\n"


def cmd_values_table(args):
    with open(args[1]) as fh:
        schema = json.load(fh)
    sys.stdout.write(values_table(args[0], schema))


def cmd_annotation(args):
    dep = one(load_docs(args[0]), "Deployment")
    print(dep["spec"]["template"]["metadata"].get("annotations", {}).get(args[1], ""))


def cmd_kinds(args):
    for d in load_docs(args[0]):
        print(d["kind"])


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "case": cmd_case,
        "annotation": cmd_annotation,
        "kinds": cmd_kinds,
        "example-values": cmd_example_values,
        "compare-toml": cmd_compare_toml,
        "documented": cmd_documented,
        "values-table": cmd_values_table,
    }[cmd](args)
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
