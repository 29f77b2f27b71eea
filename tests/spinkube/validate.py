"""Checks the SpinKube example (host-examples/spinkube) offline.

    validate.py [DIR] [--crd CRD.yaml] [--spin-toml spin.toml]

- Every SpinApp against the vendored CRD's openAPIV3Schema for a served
  version, with jsonschema, the way the API server applies a structural
  schema with strict field validation: an object's unknown fields are errors
  unless the schema allows them; `required`, types, patterns and int32/int64
  formats hold. `x-kubernetes-*` extensions are otherwise ignored.
- The operator's admission rules the schema does not carry: `replicas` and
  `enableAutoscaling` exclusive, and the name a DNS label (it names the
  Deployment and the Service).
- Every secretKeyRef / configMapKeyRef names a Secret / ConfigMap defined in
  DIR that has that key; Secret values in the example are placeholders.
- The SpinApp binds exactly the Spin variables the app declares, secret ones
  (and trust_policy) from a Secret; the key-value store `default` is Redis.
- Each HorizontalPodAutoscaler targets something that exists and can be
  scaled, and together they keep at least MIN_REPLICAS pods.
- DIR/runtime-config.toml, if present, has the keys Spin accepts.

Prints one line and exits 0, or prints one line per problem and exits 1.
"""

import argparse
import base64
import binascii
import copy
import re
import sys
import tomllib
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]

# Not secret to Spin, but kept in a Secret on purpose (see spinapp.yaml).
SECRET_BY_CHOICE = {"trust_policy"}
# Three pods, so that a node drain or a rollout never takes the broker down.
MIN_REPLICAS = 3
KNOWN_KINDS = {"SpinApp", "ConfigMap", "Secret", "HorizontalPodAutoscaler"}
# What Spin's runtime config accepts for these sections (it denies unknown fields).
VAULT_KEYS = {"type", "url", "token", "mount", "prefix"}
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def strict(schema):
    """The schema with additionalProperties: false wherever Kubernetes would
    refuse unknown fields, and OpenAPI's `nullable` as JSON Schema says it."""
    s = dict(schema)
    if "properties" in s:
        s["properties"] = {k: strict(v) for k, v in s["properties"].items()}
        if "additionalProperties" not in s and not s.get("x-kubernetes-preserve-unknown-fields"):
            s["additionalProperties"] = False
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = strict(s["additionalProperties"])
    if isinstance(s.get("items"), dict):
        s["items"] = strict(s["items"])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in s:
            s[key] = [strict(x) for x in s[key]]
    if "not" in s:
        s["not"] = strict(s["not"])
    if s.pop("nullable", False) and "type" in s:
        s["type"] = [s["type"], "null"]
    return s


def formats():
    checker = jsonschema.FormatChecker(formats=())
    for name, bits in (("int32", 32), ("int64", 64)):
        checker.checks(name)(
            lambda v, bits=bits: not isinstance(v, int) or -(2 ** (bits - 1)) <= v < 2 ** (bits - 1)
        )
    return checker


def load_crd(path):
    crd = yaml.safe_load(path.read_text())
    spec = crd["spec"]
    served = {
        f'{spec["group"]}/{v["name"]}': v for v in spec["versions"] if v.get("served")
    }
    return spec["names"]["kind"], served


def expected_variables(spin_toml):
    """name -> (secret?, required?): spin.toml's [variables] table, the
    variables the Spin build reads (tests/spin.rs checks that list)."""
    declared = tomllib.loads(spin_toml.read_text()).get("variables", {})
    if not declared:
        raise SystemExit(f"{spin_toml} declares no [variables]")
    return {name: (bool(v.get("secret")), bool(v.get("required"))) for name, v in declared.items()}


def refs(node, path=""):
    """Every (path, kind, ref) for secretKeyRef / configMapKeyRef under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else key
            if key in ("secretKeyRef", "configMapKeyRef") and isinstance(value, dict):
                yield here, "Secret" if key == "secretKeyRef" else "ConfigMap", value
            else:
                yield from refs(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from refs(item, f"{path}[{i}]")


def keys_of(obj, errors, where):
    """A ConfigMap's or Secret's keys, checking its values are strings."""
    keys = set()
    for field in ("data", "stringData") if obj["kind"] == "Secret" else ("data", "binaryData"):
        values = obj.get(field) or {}
        if not isinstance(values, dict):
            errors.append(f"{where}: {field} must be a map")
            continue
        for key, value in values.items():
            keys.add(key)
            if not isinstance(value, str):
                errors.append(f"{where}: {field}.{key} must be a string, not {type(value).__name__} (quote it)")
                continue
            text = value
            if field == "binaryData" or (obj["kind"] == "Secret" and field == "data"):
                try:
                    text = base64.b64decode(value, validate=True).decode("utf-8", "replace")
                except binascii.Error:
                    errors.append(f"{where}: {field}.{key} is not base64")
            # An example must never carry a credential, real or real-looking.
            if obj["kind"] == "Secret" and text and "REPLACE" not in text:
                errors.append(f"{where}: {field}.{key} must be a placeholder (empty or REPLACE-…) in the example")
    return keys


def check_spinapp(app, where, schema, objects, variables, errors):
    validator = jsonschema.Draft4Validator(schema, format_checker=formats())
    for error in sorted(validator.iter_errors(app), key=lambda e: list(map(str, e.absolute_path))):
        at = ".".join(str(p) for p in error.absolute_path) or "(document)"
        errors.append(f"{where}: {at}: {error.message}")

    name = app.get("metadata", {}).get("name", "")
    if not DNS_LABEL.match(str(name)):
        errors.append(f"{where}: metadata.name must be a DNS label (it names the Deployment and the Service)")
    spec = app.get("spec") if isinstance(app.get("spec"), dict) else {}
    # spin-operator's admission webhook (internal/webhook/spinapp_validating.go).
    if spec.get("enableAutoscaling") is True and "replicas" in spec:
        errors.append(f"{where}: spec.replicas cannot be set when enableAutoscaling is true")
    if spec.get("enableAutoscaling") is not True and not (
        isinstance(spec.get("replicas"), int) and spec["replicas"] >= MIN_REPLICAS
    ):
        errors.append(f"{where}: spec.replicas must be at least {MIN_REPLICAS} without enableAutoscaling")

    for path, kind, ref in refs(spec, "spec"):
        target = objects.get((kind, ref.get("name", "")))
        if target is None:
            errors.append(f"{where}: {path} names {kind} {ref.get('name')!r}, not defined in the folder")
        elif ref.get("key") not in target["keys"]:
            errors.append(f"{where}: {path}: {kind} {ref.get('name')} has no key {ref.get('key')!r}")

    bound = {}
    for i, var in enumerate(spec.get("variables") or []):
        if not isinstance(var, dict):
            continue
        vname, at = var.get("name"), f"spec.variables[{i}]"
        if vname in bound:
            errors.append(f"{where}: {at}: {vname} is bound twice")
        source = var.get("valueFrom") or {}
        if ("value" in var) == bool(source):
            errors.append(f"{where}: {at} ({vname}): give exactly one of value and valueFrom")
        if source and len(source) != 1:
            errors.append(f"{where}: {at} ({vname}): valueFrom takes one of secretKeyRef and configMapKeyRef")
        bound[vname] = var
    expected = variables
    for missing in sorted(expected.keys() - bound.keys()):
        errors.append(f"{where}: spec.variables lacks {missing}")
    for extra in sorted(bound.keys() - expected.keys(), key=str):
        errors.append(f"{where}: spec.variables binds {extra}, which the app does not declare")
    for vname, (secret, required) in sorted(expected.items()):
        var = bound.get(vname)
        if var is None:
            continue
        if (secret or vname in SECRET_BY_CHOICE) and "secretKeyRef" not in (var.get("valueFrom") or {}):
            errors.append(f"{where}: variable {vname} must come from a Secret (secretKeyRef)")
        if required and "value" in var and not var["value"]:
            errors.append(f"{where}: variable {vname} is required but bound to an empty value")

    runtime = spec.get("runtimeConfig") or {}
    if runtime.get("loadFromSecret"):
        errors.append(f"{where}: runtimeConfig.loadFromSecret would make the operator ignore keyValueStores")
    stores = {s.get("name"): s for s in runtime.get("keyValueStores") or [] if isinstance(s, dict)}
    store = stores.get("default")
    if store is None:
        errors.append(f"{where}: runtimeConfig.keyValueStores has no `default` store (the broker's cache)")
    elif store.get("type") != "redis" or "url" not in {o.get("name") for o in store.get("options") or []}:
        errors.append(f"{where}: the `default` key-value store must be type redis with a url option")


def check_hpa(hpa, where, crd_kind, crd_versions, objects, errors):
    if hpa.get("apiVersion") != "autoscaling/v2":
        errors.append(f"{where}: apiVersion must be autoscaling/v2")
    spec = hpa.get("spec") or {}
    target = spec.get("scaleTargetRef") or {}
    kind, name, api = target.get("kind"), target.get("name"), target.get("apiVersion")
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if not (isinstance(low, int) and isinstance(high, int) and MIN_REPLICAS <= low <= high):
        errors.append(f"{where}: need {MIN_REPLICAS} <= minReplicas <= maxReplicas")
    app = None
    if kind == crd_kind:
        version = crd_versions.get(api)
        if version is None or "scale" not in (version.get("subresources") or {}):
            errors.append(
                f"{where}: scaleTargetRef: {crd_kind} has no scale subresource in the CRD; "
                "target the Deployment the operator creates and set enableAutoscaling"
            )
        app = objects.get((crd_kind, name))
    elif (kind, api) == ("Deployment", "apps/v1"):
        app = objects.get((crd_kind, name))
        if app is not None and app["doc"].get("spec", {}).get("enableAutoscaling") is not True:
            errors.append(f"{where}: {crd_kind} {name} lacks enableAutoscaling: true, so the operator fights the HPA")
    if app is None:
        errors.append(f"{where}: scaleTargetRef {api} {kind} {name!r} is nothing this folder creates")
        return None
    uses_cpu = any(
        (m.get("resource") or {}).get("name") == "cpu" for m in spec.get("metrics") or [] if isinstance(m, dict)
    )
    requests = ((app["doc"].get("spec") or {}).get("resources") or {}).get("requests") or {}
    if uses_cpu and "cpu" not in requests:
        errors.append(f"{where}: a CPU target needs resources.requests.cpu in {crd_kind} {name}")
    return name


def check_runtime_config(path, errors):
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        errors.append(f"{path.name}: {error}")
        return
    store = (config.get("key_value_store") or {}).get("default") or {}
    if store.get("type") != "redis" or not str(store.get("url", "")).startswith("redis://"):
        errors.append(f"{path.name}: [key_value_store.default] needs type = \"redis\" and a redis:// url")
    for i, provider in enumerate(config.get("config_provider") or []):
        if provider.get("type") != "vault":
            continue
        if unknown := provider.keys() - VAULT_KEYS:
            errors.append(f"{path.name}: config_provider[{i}]: Spin refuses {sorted(unknown)}")
        if missing := {"url", "token", "mount"} - provider.keys():
            errors.append(f"{path.name}: config_provider[{i}]: lacks {sorted(missing)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=ROOT / "host-examples/spinkube")
    parser.add_argument("--crd", type=Path, default=ROOT / "tests/data/spin-operator/core.spinkube.dev_spinapps.yaml")
    parser.add_argument("--spin-toml", type=Path, default=ROOT / "spin.toml")
    args = parser.parse_args()

    errors = []
    crd_kind, crd_versions = load_crd(args.crd)
    variables = expected_variables(args.spin_toml)

    documents = []
    files = sorted(args.dir.glob("*.yaml")) + sorted(args.dir.glob("*.yml"))
    for file in files:
        try:
            docs = list(yaml.safe_load_all(file.read_text()))
        except yaml.YAMLError as error:
            errors.append(f"{file.name}: {error}".replace("\n", " "))
            continue
        for i, doc in enumerate(d for d in docs if d is not None):
            if not isinstance(doc, dict) or not doc.get("kind") or not (doc.get("metadata") or {}).get("name"):
                errors.append(f"{file.name}[{i}]: not a Kubernetes object with kind and metadata.name")
                continue
            documents.append((f"{file.name}: {doc['kind']}/{doc['metadata']['name']}", doc))
    if not files:
        errors.append(f"{args.dir}: no YAML files")

    objects = {}
    for where, doc in documents:
        key = (doc["kind"], doc["metadata"]["name"])
        if doc["kind"] not in KNOWN_KINDS:
            errors.append(f"{where}: kind {doc['kind']} is not one this check knows ({', '.join(sorted(KNOWN_KINDS))})")
        if key in objects:
            errors.append(f"{where}: defined twice")
        keys = keys_of(doc, errors, where) if doc["kind"] in ("Secret", "ConfigMap") else set()
        if doc["kind"] == "Secret" and doc.get("type", "Opaque") != "Opaque":
            errors.append(f"{where}: type must be Opaque")
        objects[key] = {"doc": doc, "keys": keys}

    apps = []
    for where, doc in documents:
        if doc["kind"] == crd_kind:
            version = crd_versions.get(doc.get("apiVersion"))
            if version is None:
                errors.append(f"{where}: apiVersion must be one of {sorted(crd_versions)}")
                continue
            schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            check_spinapp(doc, where, schema, objects, variables, errors)
            apps.append(doc)
    scaled = set()
    for where, doc in documents:
        if doc["kind"] == "HorizontalPodAutoscaler":
            scaled.add(check_hpa(doc, where, crd_kind, crd_versions, objects, errors))
    for app in apps:
        name = app["metadata"]["name"]
        if (app.get("spec") or {}).get("enableAutoscaling") is True and name not in scaled:
            errors.append(f"{crd_kind}/{name}: enableAutoscaling, but no HorizontalPodAutoscaler targets its Deployment")
    if not apps:
        errors.append(f"{args.dir}: no {crd_kind}")

    if (args.dir / "runtime-config.toml").is_file():
        check_runtime_config(args.dir / "runtime-config.toml", errors)

    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        return 1
    print(
        f"{args.dir.name}: {len(documents)} objects in {len(files)} files valid; "
        f"{crd_kind} against {args.crd.name} ({', '.join(sorted(crd_versions))}, strict), "
        f"{len(variables)} variables as spin.toml [variables] declares"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
