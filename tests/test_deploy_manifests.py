"""The Kubernetes manifests in deploy/: each kustomization renders, validates against the Kubernetes schemas
(kubernetes-validate's bundled schemas, strict: unknown fields fail too), and keeps what issue 15 asks of it: probes
on Streamlit's health route, several replicas, session affinity, a locked-down security context, writable paths on
emptyDir only, no secret in the ConfigMap and every secret referenced from a Secret.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.config import LOCAL_DEPLOYMENTS, load_settings
from tests.fixtures.kustomize import KustomizeSubsetError, render

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = REPO_ROOT / "deploy"
KUSTOMIZATIONS = {
    "base": DEPLOY / "base",
    **{path.name: path for path in sorted((DEPLOY / "overlays").iterdir()) if (path / "kustomization.yaml").exists()},
}
OVERLAYS = [name for name in KUSTOMIZATIONS if name != "base"]
SECRETS_EXAMPLE = DEPLOY / "secrets.example.yaml"
# The oldest minor version still common on managed clusters, and the newest the package ships.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
APP, ENDPOINT = "playground", "playground-endpoint"
HEALTH_PATH, APP_PORT = "/_stcore/health", 8501
SECRET_WORDS = re.compile(r"key|token|secret|password|credential|database_url", re.IGNORECASE)


def rendered(name: str) -> list[dict[str, Any]]:
    return render(KUSTOMIZATIONS[name])


def one(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def port_number(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's target port, resolved through the container's named ports."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)


def quantity(value: str | int) -> float:
    """A Kubernetes quantity (`250m`, `2`, `640Mi`, `1Gi`) as a plain number."""
    text = str(value)
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(suffixes.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def deployments(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] == "Deployment"]


def schema_errors(resource: dict[str, Any], version: str) -> str | None:
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as err:
        return f"{resource['kind']}/{resource['metadata']['name']} at {'.'.join(map(str, err.path))}: {err.message}"
    return None


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(name: str, version: str) -> None:
    resources = rendered(name)
    assert {r["kind"] for r in resources} >= {"Deployment", "Service", "Ingress", "ConfigMap"}
    errors = [error for r in resources if (error := schema_errors(r, version))]
    assert not errors, "\n".join(errors)


def test_the_schema_check_catches_a_wrong_field() -> None:
    deployment = one(rendered("team"), "Deployment", APP)
    pod_spec(deployment)["containers"][0]["readinessProbe"]["httpGet"]["paht"] = HEALTH_PATH
    assert "paht" in (schema_errors(deployment, KUBERNETES_VERSIONS[-1]) or "")
    pod_spec(deployment)["containers"][0]["readinessProbe"]["httpGet"].pop("paht")
    deployment["spec"]["replicas"] = "three"
    assert "replicas" in (schema_errors(deployment, KUBERNETES_VERSIONS[-1]) or "")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_secrets_example_validates_and_names_every_secret_the_manifests_mount(version: str) -> None:
    examples = [doc for doc in yaml.safe_load_all(SECRETS_EXAMPLE.read_text()) if doc]
    errors = [error for doc in examples if (error := schema_errors(doc, version))]
    assert not errors, "\n".join(errors)
    referenced: set[str] = set()
    for name in OVERLAYS:
        for deployment in deployments(rendered(name)):
            spec = pod_spec(deployment)
            referenced |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
            for container in spec["containers"]:
                for entry in container.get("env", []):
                    ref = entry.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        referenced.add(ref["name"])
                        example = next(d for d in examples if d["metadata"]["name"] == ref["name"])
                        assert ref["key"] in example["stringData"]
    assert referenced == {doc["metadata"]["name"] for doc in examples}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed: nothing to compare with")
@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_the_python_render_is_what_kubectl_kustomize_prints(name: str) -> None:
    printed = subprocess.run(
        ["kubectl", "kustomize", str(KUSTOMIZATIONS[name])], capture_output=True, text=True, check=True, timeout=60
    ).stdout

    def by_id(resources: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
        return {(r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"]): r for r in resources}

    assert by_id(rendered(name)) == by_id([doc for doc in yaml.safe_load_all(printed) if doc])


@pytest.mark.parametrize(
    ("kustomization", "complaint"),
    [
        ("resources: [a.yaml]\nconfigMapGenerator: [{name: x, files: [a.toml]}]\n", "configMapGenerator"),
        ("resources: [a.yaml]\npatches: [{target: {kind: ConfigMap, name: x}, patch: 'data: {a: b}'}]\n", "6902"),
        ("resources: [a.yaml]\npatches: [{target: {kind: ConfigMap, name: 'x.*'}, patch: '[]'}]\n", "literal"),
        ("resources: [a.yaml]\npatches: [{target: {kind: ConfigMap, name: y}, patch: '[]'}]\n", "matches no"),
        ("resources: [a.yaml, a.yaml]\n", "twice"),
    ],
)
def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path, kustomization: str, complaint: str) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n")
    header = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    (tmp_path / "kustomization.yaml").write_text(header + kustomization)
    with pytest.raises(KustomizeSubsetError, match=complaint):
        render(tmp_path)


def test_the_renderer_applies_json_patches_images_replicas_and_namespace(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "w"},
                "spec": {
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "c", "image": "img:1", "env": []}]}},
                },
            }
        )
    )
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ns\nresources: [d.yaml]\n"
        "images: [{name: img, newName: reg/img, newTag: '2'}]\nreplicas: [{name: w, count: 4}]\n"
        "patches: [{target: {kind: Deployment, name: w}, patch: '[{op: add, path: /spec/template/spec/containers/0/"
        "env/-, value: {name: A, value: b}}, {op: remove, path: /spec/template/spec/containers/0/name}]'}]\n"
    )
    (deployment,) = render(tmp_path)
    assert deployment["metadata"]["namespace"] == "ns"
    assert deployment["spec"]["replicas"] == 4
    assert pod_spec(deployment)["containers"] == [{"image": "reg/img:2", "env": [{"name": "A", "value": "b"}]}]


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_app_is_probed_on_streamlits_health_route(name: str) -> None:
    (container,) = pod_spec(one(rendered(name), "Deployment", APP))["containers"]
    assert port_number(container, "http") == APP_PORT
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert (get["path"], port_number(container, get["port"])) == (HEALTH_PATH, APP_PORT), probe
    # A liveness probe that fails before readiness could restart a pod that is only slow to start.
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] >= 60


def test_the_team_overlay_runs_several_replicas_of_a_pinned_image() -> None:
    resources = rendered("team")
    deployment = one(resources, "Deployment", APP)
    assert deployment["spec"]["replicas"] > 1
    image = pod_spec(deployment)["containers"][0]["image"]
    assert re.fullmatch(r"[^:]+/[^:]+:[\w.-]+", image) and not image.endswith(":latest"), image
    # No embedded endpoint in a team's deployment: its keys go to real deployments.
    assert not [d for d in deployments(resources) if d["metadata"]["name"] == ENDPOINT]


@pytest.mark.parametrize("name", OVERLAYS)
def test_a_browser_stays_on_one_replica(name: str) -> None:
    resources = rendered(name)
    service = one(resources, "Service", APP)
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    assert service["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] >= 3600
    ingress = one(resources, "Ingress", APP)
    notes = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    assert notes["nginx.ingress.kubernetes.io/session-cookie-name"]
    # Streamlit's websocket stays open while a tab is: nginx's 60 s default would cut idle sessions.
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    # Streamlit accepts 20 MB uploads (.streamlit/config.toml); nginx's 1 MB default would refuse them first.
    assert quantity(notes["nginx.ingress.kubernetes.io/proxy-body-size"].replace("m", "M")) >= 20e6
    # The Ingress reaches the app's container port through the Service.
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] in ingress["spec"]["tls"][0]["hosts"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"]]
    (container,) = pod_spec(one(resources, "Deployment", APP))["containers"]
    assert port_number(container, port["targetPort"]) == APP_PORT


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_service_selects_the_pods_of_exactly_one_deployment(name: str) -> None:
    resources = rendered(name)
    for service in (r for r in resources if r["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        chosen = [
            d["metadata"]["name"]
            for d in deployments(resources)
            if selector <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert chosen == [service["metadata"]["name"]]
    for deployment in deployments(resources):
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        )


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_pod_runs_non_root_read_only_without_privileges(name: str) -> None:
    image_user = re.search(r"^USER (\d+)$", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert image_user, "the Dockerfile's USER must be numeric for runAsNonRoot to be checked"
    for deployment in deployments(rendered(name)):
        spec = pod_spec(deployment)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] == int(image_user.group(1))
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        # Service links would add <SERVICE>_PORT-style variables, e.g. PLAYGROUND_PORT, to the app's environment.
        assert spec["enableServiceLinks"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context.get("privileged") is not True


@pytest.mark.parametrize("name", OVERLAYS)
def test_what_the_processes_write_is_on_emptydir_volumes(name: str) -> None:
    for deployment in deployments(rendered(name)):
        spec = pod_spec(deployment)
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
            # Every writable mount is scratch space with a size limit, never a Secret or ConfigMap.
            for mount in container["volumeMounts"]:
                if not mount.get("readOnly"):
                    assert "sizeLimit" in volumes[mount["name"]]["emptyDir"], mount
            env = env_of(container)
            home = env["HOME"]["value"]
            # Measured under a read-only root (deploy/README.md): /tmp, ~/.cache (numba, onnxruntime), the data dir.
            assert {"/tmp", f"{home}/.cache"} <= writable
            if deployment["metadata"]["name"] == APP:
                assert env["PLAYGROUND_DATA_DIR"]["value"] in writable
            assert env["PYTHONDONTWRITEBYTECODE"]["value"] == "1"


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_container_has_requests_and_limits(name: str) -> None:
    for deployment in deployments(rendered(name)):
        for container in pod_spec(deployment)["containers"]:
            resources = container["resources"]
            for what in ("cpu", "memory"):
                assert quantity(resources["limits"][what]) >= quantity(resources["requests"][what]) > 0
            # Measured RSS (deploy/README.md): the app 470-575 MiB after an embedding job with UMAP, the endpoint
            # 415 MiB with its three models loaded. A request below that would overcommit every node.
            floor = {APP: 575, ENDPOINT: 415}[deployment["metadata"]["name"]] * 2**20
            assert quantity(resources["requests"]["memory"]) >= floor


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_configmap_is_a_valid_deployments_file_without_secrets(name: str, tmp_path: Path) -> None:
    resources = rendered(name)
    configmap = one(resources, "ConfigMap", "playground-deployments")
    (text,) = configmap["data"].values()
    tables = tomllib.loads(text).get("deployments", {})
    for deployment, fields in tables.items():
        assert not [f for f in fields if SECRET_WORDS.search(f) or f == "extra_headers"], deployment
    # Mounted where PLAYGROUND_CONFIG points, read by the app's own loader exactly as the pod's environment says.
    (container,) = pod_spec(one(resources, "Deployment", APP))["containers"]
    env = env_of(container)
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == env["PLAYGROUND_CONFIG"]["value"]]
    assert pod_spec(one(resources, "Deployment", APP))["volumes"][0] == {
        "name": mount["name"],
        "configMap": {"name": "playground-deployments"},
    }
    config = tmp_path / "deployments.toml"
    config.write_text(text)
    environ = {k: v["value"] for k, v in env.items() if "value" in v and k.startswith("PLAYGROUND_LOCAL")}
    environ["PLAYGROUND_SECRETS"] = str(tmp_path / "no-secrets.toml")
    loaded = load_settings(config, environ).deployments
    assert set(loaded) >= set(tables)
    assert loaded, "the app would start an embedded endpoint inside every replica (scripts/run.sh)"


def test_the_example_keys_are_the_names_the_app_reads(tmp_path: Path) -> None:
    """The playground-keys Secret, mounted as PLAYGROUND_SECRETS_DIR, gives every team deployment its key."""
    resources = rendered("team")
    (text,) = one(resources, "ConfigMap", "playground-deployments")["data"].values()
    (config := tmp_path / "deployments.toml").write_text(text)
    examples = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(SECRETS_EXAMPLE.read_text()) if doc}
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    for file_name, value in examples["playground-keys"]["stringData"].items():
        (keys_dir / file_name).write_text(value)
    (container,) = pod_spec(one(resources, "Deployment", APP))["containers"]
    mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(one(resources, "Deployment", APP))["volumes"]}
    secrets_dir = env_of(container)["PLAYGROUND_SECRETS_DIR"]["value"]
    (volume,) = [name for name, path in mounted.items() if path == secrets_dir]
    assert volumes[volume]["secret"]["secretName"] == "playground-keys"
    environ = {"PLAYGROUND_SECRETS_DIR": str(keys_dir), "PLAYGROUND_SECRETS": str(tmp_path / "none.toml")}
    loaded = load_settings(config, environ).deployments
    assert {name: d.key_source for name, d in loaded.items()} == dict.fromkeys(
        tomllib.loads(text)["deployments"], "secrets_dir"
    )


@pytest.mark.parametrize("name", OVERLAYS)
def test_secrets_are_referenced_never_inlined(name: str) -> None:
    resources = rendered(name)
    assert not [r for r in resources if r["kind"] == "Secret"]
    for deployment in deployments(resources):
        spec = pod_spec(deployment)
        for container in spec["containers"]:
            inlined = [e["name"] for e in container.get("env", []) if "value" in e and SECRET_WORDS.search(e["name"])]
            # PLAYGROUND_SECRETS_DIR is a path, not a secret.
            assert inlined in ([], ["PLAYGROUND_SECRETS_DIR"]), inlined
            assert "envFrom" not in container
    (container,) = pod_spec(one(resources, "Deployment", APP))["containers"]
    env = env_of(container)
    assert env["PLAYGROUND_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "playground-database"
    volumes = {v["name"]: v for v in pod_spec(one(resources, "Deployment", APP))["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/app/.streamlit/secrets.toml"]
    assert mount["readOnly"] is True and mount["subPath"] == "secrets.toml"
    assert volumes[mount["name"]]["secret"]["secretName"] == "playground-streamlit-secrets"


def test_the_demo_overlay_runs_the_embedded_endpoint_beside_the_app(tmp_path: Path) -> None:
    resources = rendered("demo")
    endpoint = one(resources, "Deployment", ENDPOINT)
    (container,) = pod_spec(endpoint)["containers"]
    (app,) = pod_spec(one(resources, "Deployment", APP))["containers"]
    assert container["image"] == app["image"]
    assert container["command"] == ["python", "-m", "local_endpoint", "--host", "0.0.0.0", "--port", "8800"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health?ready=1"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    # Threads follow the CPU limit: os.cpu_count() in a pod is the node's.
    assert quantity(env_of(container)["LOCAL_ENDPOINT_THREADS"]["value"]) == quantity(
        container["resources"]["limits"]["cpu"]
    )
    service = one(resources, "Service", ENDPOINT)
    (port,) = service["spec"]["ports"]
    assert port_number(container, port["targetPort"]) == 8800
    assert env_of(app)["PLAYGROUND_LOCAL_ENDPOINT"]["value"] == f"http://{ENDPOINT}:{port['port']}"
    # Only the app's pods may call it: it has no key here.
    policy = one(resources, "NetworkPolicy", ENDPOINT)
    assert policy["spec"]["podSelector"]["matchLabels"] == service["spec"]["selector"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": one(resources, "Service", APP)["spec"]["selector"]}}]
    # The demo needs no Secret to start; the configured list is the endpoint's three deployments.
    volumes = pod_spec(one(resources, "Deployment", APP))["volumes"]
    assert all(v["secret"].get("optional") is True for v in volumes if "secret" in v)
    (text,) = one(resources, "ConfigMap", "playground-deployments")["data"].values()
    assert not tomllib.loads(text).get("deployments")
    (config := tmp_path / "deployments.toml").write_text(text)
    environ = {
        "PLAYGROUND_LOCAL_ENDPOINT": env_of(app)["PLAYGROUND_LOCAL_ENDPOINT"]["value"],
        "PLAYGROUND_SECRETS": str(tmp_path / "none.toml"),
    }
    loaded = load_settings(config, environ).deployments
    assert sorted(loaded) == sorted(LOCAL_DEPLOYMENTS)
    assert {d.endpoint for d in loaded.values()} == {f"http://{ENDPOINT}:{port['port']}/{n}" for n in LOCAL_DEPLOYMENTS}
