"""The distributed deployment: docker-compose.yml and infra/docker/Dockerfile.

No Docker engine runs where the tests run, so these tests read the files and check what Compose and
BuildKit would do with them: services, images, KRaft settings, start order, healthchecks (the shell
and Python ones are executed), how secrets and other variables are interpolated, and the image.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "infra" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

INFRA_SERVICES = ("kafka", "clickhouse")
APP_SERVICES = ("migrate", "worker", "sink", "api", "strikes", "chat", "assist", "x-poll")
ONE_SHOT_SERVICES = frozenset({"migrate"})
APP_COMMANDS = {
    "migrate": ["migrate"],
    "worker": ["worker"],
    "sink": ["sink"],
    "api": ["serve", "--no-sink"],
    "strikes": ["strikes"],
    "chat": ["chat"],
    "assist": ["assist"],
    "x-poll": ["x-poll"],
}
HEALTHY = "service_healthy"
COMPLETED = "service_completed_successfully"
# The least each app service must wait for (it may wait for more).
APP_DEPENDENCIES = {
    "migrate": {"clickhouse": HEALTHY},
    "worker": {"kafka": HEALTHY, "migrate": COMPLETED},
    "sink": {"kafka": HEALTHY, "migrate": COMPLETED},
    "api": {"kafka": HEALTHY, "clickhouse": HEALTHY, "migrate": COMPLETED},
    "strikes": {"kafka": HEALTHY, "migrate": COMPLETED},
    "chat": {"kafka": HEALTHY, "migrate": COMPLETED},
    "assist": {"api": "service_started"},
    "x-poll": {"kafka": HEALTHY, "migrate": COMPLETED},
}
HEARTBEAT_SERVICES = ("worker", "sink", "strikes", "x-poll")
HEARTBEAT_MAX_AGE = 30

SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "CREDENTIAL")
# Variables that must be set for `docker compose up`; each is `${NAME:?message}` and has no default.
REQUIRED_VARIABLES = frozenset(
    {
        "CLICKHOUSE_PASSWORD",
        "MODSTREAM_SECRET_KEY",
        "MODSTREAM_ASSIST_SECRET",
        "GRAFANA_ADMIN_PASSWORD",
    }
)
# `${NAME}` with neither `:?` nor `:-default` would silently become "" when unset. Names allowed
# to do that are listed here, on purpose (none today).
ALLOWED_BARE_VARIABLES: frozenset[str] = frozenset()

# ---------------------------------------------------------------------------------------------
# Reading the files
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def environment(service: dict[str, Any]) -> dict[str, Any]:
    """A service's environment as a mapping, whichever of Compose's two forms it is written in."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    assert isinstance(env, dict)
    return env


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    """`depends_on` as {service: condition}; the short (list) form means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command")
    if isinstance(cmd, str):
        return shlex.split(cmd)
    return list(cmd or [])


def strings(node: Any) -> Iterator[str]:
    """Every string value in the parsed file, where Compose interpolates variables."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


# `$$` (a literal `$`), `${...}`, `$NAME`, or a `$` Compose would reject.
_DOLLAR = re.compile(r"\$\$|\$\{(?P<braced>[^}]*)\}|\$(?P<bare>[A-Za-z_]\w*)|\$")
_EXPRESSION = re.compile(r"(?P<name>[A-Za-z_]\w*)(?:(?P<op>:\?|\?|:-|-|:\+|\+)(?P<arg>.*))?", re.S)


def references(text: str) -> Iterator[tuple[str, str | None, str]]:
    """Yield (name, operator, argument) for each interpolation in `text`; fail on bad `$` usage."""
    for match in _DOLLAR.finditer(text):
        token = match.group(0)
        if token == "$$":
            continue
        if match.group("bare"):
            pytest.fail(f"unbraced ${match.group('bare')} in {text!r}: write ${{NAME...}}")
        braced = match.group("braced")
        if braced is None:
            pytest.fail(f"a lone `$` in {text!r}: Compose interpolates it; write `$$` for a `$`")
        expression = _EXPRESSION.fullmatch(braced)
        assert expression, f"cannot read the interpolation ${{{braced}}} in {text!r}"
        assert "$" not in (expression.group("arg") or ""), f"nested interpolation in {text!r}"
        yield expression.group("name"), expression.group("op"), expression.group("arg") or ""


def interpolate(text: str, values: dict[str, str]) -> str:
    """What Compose makes of `text` with `values` set on the host (and nothing else set)."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$$":
            return "$"
        name, op, arg = next(references(token))
        if name in values and (values[name] or op not in (":?", ":-")):
            return values[name]
        if op in (":?", "?"):
            pytest.fail(f"Compose would refuse to start: {name} is not set ({arg})")
        return arg if op in (":-", "-") else ""

    return _DOLLAR.sub(replace, text)


def sample_host_environment() -> dict[str, str]:
    """A distinct, recognisable value for each required variable."""
    return {name: f"sample-{name.lower().replace('_', '-')}" for name in REQUIRED_VARIABLES}


def unescape(text: str) -> str:
    """What a container receives for a string with no variables in it: `$$` becomes `$`."""
    assert not list(references(text)), f"{text!r} interpolates host variables"
    return text.replace("$$", "$")


def is_secret(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def dockerfile_stages() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(base image, stage name, instructions) per FROM, with global ARG defaults substituted."""
    global_args: dict[str, str] = {}
    stages: list[tuple[str, str, list[tuple[str, str]]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            parts = arguments.split()
            base = re.sub(
                r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), parts[0]
            )
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else ""
            stages.append((base, name, []))
        elif not stages and keyword == "ARG":
            key, _, default = arguments.partition("=")
            global_args[key.strip()] = default.strip().strip("\"'")
        elif stages:
            stages[-1][2].append((keyword, arguments))
    assert stages, "the Dockerfile has no FROM"
    return stages


# ---------------------------------------------------------------------------------------------
# Services and images
# ---------------------------------------------------------------------------------------------


def test_all_services_are_defined(services: dict[str, dict[str, Any]]) -> None:
    missing = set(INFRA_SERVICES + APP_SERVICES) - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


@pytest.mark.parametrize(
    ("service", "repository"),
    [("kafka", "apache/kafka"), ("clickhouse", "clickhouse/clickhouse-server")],
)
def test_infrastructure_uses_official_pinned_images(
    services: dict[str, dict[str, Any]], service: str, repository: str
) -> None:
    image = services[service]["image"]
    name, _, tag = image.partition(":")
    assert name == repository, f"{service} must run the official {repository} image, not {image}"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)*", tag), f"{service} image tag must be a version: {image}"
    assert "build" not in services[service]


def test_no_service_uses_a_floating_tag(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        if not image or "build" in service:
            continue
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: image {image} has no tag"
        assert not image.endswith(":latest"), f"{name}: image {image} floats"


def test_kafka_runs_in_kraft_mode_as_one_node(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["kafka"])
    assert set(str(env["KAFKA_PROCESS_ROLES"]).split(",")) == {"broker", "controller"}
    node_id = str(env["KAFKA_NODE_ID"])
    voters = str(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]).split(",")
    assert voters == [f"{node_id}@kafka:9093"], f"the quorum must be this node only: {voters}"
    listeners = set(str(env["KAFKA_LISTENERS"]).split(","))
    assert listeners == {"PLAINTEXT://:9092", "CONTROLLER://:9093"}
    assert str(env["KAFKA_CONTROLLER_LISTENER_NAMES"]) == "CONTROLLER"
    assert str(env["KAFKA_ADVERTISED_LISTENERS"]) == "PLAINTEXT://kafka:9092"
    protocols = dict(
        p.split(":") for p in str(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]).split(",")
    )
    assert {"CONTROLLER", "PLAINTEXT"} <= set(protocols)
    assert str(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == "1"
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false", "Modstream creates its topics"
    assert env.get("CLUSTER_ID"), "a fixed cluster id keeps the formatted log dir valid on restart"
    assert not any("ZOOKEEPER" in key for key in env), "KRaft mode has no ZooKeeper"
    for name, service in services.items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(service.get("image", "")).lower()


def named_volume_targets(service: dict[str, Any], compose: dict[str, Any]) -> set[str]:
    targets = set()
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source", ""), volume["target"]
        if source in (compose.get("volumes") or {}):
            targets.add(target)
    return targets


def test_broker_and_warehouse_data_live_on_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    kafka_log_dirs = str(environment(services["kafka"])["KAFKA_LOG_DIRS"])
    assert kafka_log_dirs in named_volume_targets(services["kafka"], compose)
    assert "/var/lib/clickhouse" in named_volume_targets(services["clickhouse"], compose)


def test_clickhouse_has_the_modstream_database_user_and_file_limits(
    services: dict[str, dict[str, Any]],
) -> None:
    clickhouse = services["clickhouse"]
    env = environment(clickhouse)
    assert env["CLICKHOUSE_DB"] == "modstream"
    assert env["CLICKHOUSE_USER"] == "modstream"
    assert str(env["CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT"]) == "1"
    nofile = clickhouse["ulimits"]["nofile"]
    assert int(nofile["soft"]) >= 262144
    assert int(nofile["hard"]) >= 262144


# ---------------------------------------------------------------------------------------------
# The Modstream services
# ---------------------------------------------------------------------------------------------


def test_app_services_share_one_image_built_from_the_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    images = {services[name].get("image") for name in APP_SERVICES}
    builds = [services[name].get("build") for name in APP_SERVICES]
    assert len(images) == 1, f"the app services run different images: {images}"
    assert all(build == builds[0] for build in builds)
    build = builds[0]
    assert isinstance(build, dict)
    assert build["context"] == "."
    assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
    assert "data" in build.get("additional_contexts", {}), "the training data build context"
    envs = [environment(services[name]) for name in APP_SERVICES]
    assert all(env == envs[0] for env in envs), "the app services' environments differ"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_its_subcommand(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    # The image's ENTRYPOINT is `modstream`; a service must not replace it.
    assert "entrypoint" not in service
    assert command(service) == APP_COMMANDS[name]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_waits_for_what_it_needs(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    actual = dependencies(services[name])
    for dependency, condition in APP_DEPENDENCIES[name].items():
        assert actual.get(dependency) == condition, (
            f"{name} must depend on {dependency} with condition {condition}, got {actual}"
        )


def test_every_dependency_condition_can_be_met(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency, condition in dependencies(service).items():
            assert dependency in services, f"{name} depends on an unknown service {dependency}"
            if condition == HEALTHY:
                assert "healthcheck" in services[dependency], (
                    f"{name} waits for {dependency} to be healthy, which has no healthcheck"
                )
            elif condition == COMPLETED:
                assert dependency in ONE_SHOT_SERVICES, f"{dependency} never completes"


def test_long_running_services_restart_and_have_healthchecks(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart", "no") == "no", f"one-shot {name} must not restart"
            continue
        assert service.get("restart") == "unless-stopped", f"{name} must restart"
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable")
        test = healthcheck["test"]
        assert test, f"{name}'s healthcheck is empty"
        assert test != ["NONE"], f"{name}'s healthcheck does nothing"


def test_app_environment_is_production_wired_to_the_containers(
    services: dict[str, dict[str, Any]],
) -> None:
    host = sample_host_environment()
    clickhouse = {
        k: interpolate(str(v), host) for k, v in environment(services["clickhouse"]).items()
    }
    for name in APP_SERVICES:
        raw = environment(services[name])
        env = {key: interpolate(str(value), host) for key, value in raw.items()}
        assert env["MODSTREAM_ENV"] == "production"
        assert env["MODSTREAM_API_HOST"] == "0.0.0.0"
        assert env["MODSTREAM_DATA_DIR"] == "/var/lib/modstream"
        # The bootstrap must be the address Kafka advertises, or clients get sent elsewhere.
        advertised = str(environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"])
        assert advertised.endswith("://" + env["MODSTREAM_KAFKA_BOOTSTRAP"])
        url = urlsplit(env["MODSTREAM_CLICKHOUSE_URL"])
        assert url.scheme == "http"
        assert (url.hostname, url.port) == ("clickhouse", 8123)
        assert url.username == clickhouse["CLICKHOUSE_USER"]
        assert url.password == clickhouse["CLICKHOUSE_PASSWORD"], "one password for both sides"
        assert url.path == "/" + clickhouse["CLICKHOUSE_DB"]
        assert env["MODSTREAM_SECRET_KEY"] == host["MODSTREAM_SECRET_KEY"]
        assert env["MODSTREAM_LOG_LEVEL"] == "INFO"
        assert interpolate(raw["MODSTREAM_LOG_LEVEL"], {"MODSTREAM_LOG_LEVEL": "DEBUG"}) == "DEBUG"


def test_environment_values_are_strings_or_numbers(services: dict[str, dict[str, Any]]) -> None:
    # Unquoted `false`, `yes`, `off` or `1.0` turn into YAML booleans and floats.
    for name, service in services.items():
        for key, value in environment(service).items():
            assert type(value) in (str, int), f"{name}: quote the value of {key} ({value!r})"


def published_ports(service: dict[str, Any]) -> set[tuple[str, str]]:
    pairs = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.add((str(port.get("published")), str(port["target"])))
        else:
            *_, published, target = str(port).split(":")
            pairs.add((published, target.split("/")[0]))
    return pairs


def test_only_the_api_is_published_on_8000(services: dict[str, dict[str, Any]]) -> None:
    assert ("8000", "8000") in published_ports(services["api"])
    assert environment(services["api"]).get("MODSTREAM_API_PORT", "8000") == "8000"
    for name in (*INFRA_SERVICES, "migrate", "worker", "sink"):
        assert not services[name].get("ports"), f"{name} should not be reachable from outside"


# ---------------------------------------------------------------------------------------------
# Secrets and variables
# ---------------------------------------------------------------------------------------------


def test_every_variable_is_required_defaulted_or_allowed(compose: dict[str, Any]) -> None:
    seen: set[str] = set()
    for text in strings(compose):
        for name, op, arg in references(text):
            seen.add(name)
            if op == ":?":
                assert arg.strip(), f"${{{name}:?}} needs a message saying what to set"
            elif op == ":-":
                assert not is_secret(name), f"secret {name} must not have a default"
                assert arg, f"${{{name}:-}} defaults to empty; give a real default"
            elif op is None:
                assert name in ALLOWED_BARE_VARIABLES, (
                    f"${{{name}}} is empty when unset (a typo would pass silently): "
                    f"use ${{{name}:?message}} or ${{{name}:-default}}"
                )
            else:
                pytest.fail(f"${{{name}{op}...}} in {text!r}: use `:?` or `:-`")
    assert seen >= REQUIRED_VARIABLES


def test_secrets_are_required_and_never_defaulted(compose: dict[str, Any]) -> None:
    required = set()
    for text in strings(compose):
        for name, op, _ in references(text):
            if is_secret(name):
                assert op == ":?", f"secret {name} must be written ${{{name}:?message}}"
            if op == ":?":
                required.add(name)
    assert required == REQUIRED_VARIABLES, "update REQUIRED_VARIABLES and the file's header"


def test_secret_settings_come_only_from_the_host(services: dict[str, dict[str, Any]]) -> None:
    one_reference = re.compile(r"\$\{[A-Za-z_]\w*:\?[^}]+\}")
    host = sample_host_environment()
    for name, service in services.items():
        for key, value in environment(service).items():
            if is_secret(key):
                assert isinstance(value, str)
                assert one_reference.fullmatch(value), f"{name}: {key} must be ${{NAME:?message}}"
            # A password inside a URL must be a required host variable too, never a literal.
            resolved = interpolate(str(value), host)
            if "://" in resolved and urlsplit(resolved).password is not None:
                assert urlsplit(resolved).password in host.values(), f"{name}: password in {key}"


# ---------------------------------------------------------------------------------------------
# Healthchecks, executed
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HEARTBEAT_SERVICES)
def test_heartbeat_healthcheck_follows_the_heartbeat_file(
    services: dict[str, dict[str, Any]], name: str, tmp_path: Path
) -> None:
    service = services[name]
    env = environment(service)
    assert env["MODSTREAM_HEARTBEAT_FILE"] == "/tmp/modstream.alive"
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    script = unescape(test[1])
    heartbeat = tmp_path / "modstream.alive"

    def check(file: Path | None) -> int:
        run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if file is not None:
            run_env["MODSTREAM_HEARTBEAT_FILE"] = str(file)
        result = subprocess.run(
            ["sh", "-c", script], env=run_env, capture_output=True, timeout=10, check=False
        )
        return result.returncode

    assert check(heartbeat) != 0, "healthy before the first heartbeat"
    heartbeat.touch()
    assert check(heartbeat) == 0, "unhealthy right after a heartbeat"
    now = time.time()
    os.utime(heartbeat, (now - HEARTBEAT_MAX_AGE + 10, now - HEARTBEAT_MAX_AGE + 10))
    assert check(heartbeat) == 0, "unhealthy with a recent heartbeat"
    os.utime(heartbeat, (now - HEARTBEAT_MAX_AGE - 5, now - HEARTBEAT_MAX_AGE - 5))
    assert check(heartbeat) != 0, f"healthy with a heartbeat older than {HEARTBEAT_MAX_AGE} s"
    assert check(None) != 0, "healthy without MODSTREAM_HEARTBEAT_FILE"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_api_healthcheck_requires_health_200(
    services: dict[str, dict[str, Any]], status: int, healthy: bool
) -> None:
    test = [unescape(part) for part in services["api"]["healthcheck"]["test"]]
    assert test[:3] == ["CMD", "python", "-c"], test
    code = test[3]
    url = "http://127.0.0.1:8000/health"
    assert url in code
    handler = type("Handler", (_Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        local = code.replace("127.0.0.1:8000", f"127.0.0.1:{server.server_address[1]}")
        result = subprocess.run(
            [sys.executable, "-c", local], capture_output=True, timeout=20, check=False
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is healthy, result.stderr.decode()


def test_clickhouse_healthcheck_does_not_trust_the_init_server(
    services: dict[str, dict[str, Any]],
) -> None:
    # The image's first start runs a temporary server on 127.0.0.1 while it creates the database.
    text = " ".join(services["clickhouse"]["healthcheck"]["test"])
    assert "/ping" in text or "SELECT 1" in text
    assert "127.0.0.1" not in text
    assert "localhost" not in text


def test_kafka_healthcheck_asks_the_broker(services: dict[str, dict[str, Any]]) -> None:
    text = " ".join(services["kafka"]["healthcheck"]["test"])
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in text
    assert "--bootstrap-server localhost:9092" in text


# ---------------------------------------------------------------------------------------------
# The image
# ---------------------------------------------------------------------------------------------


def test_image_is_built_on_a_pinned_python_slim() -> None:
    stage_names = set()
    for base, name, _ in dockerfile_stages():
        if base in stage_names:
            continue
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base), (
            f"base image {base} is not a pinned python 3.11 slim"
        )
        stage_names.add(name)


def test_image_runs_modstream_as_an_unprivileged_user() -> None:
    _, _, final = dockerfile_stages()[-1]
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the runtime stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "the runtime stage runs as root"
    runs = " ".join(arguments for keyword, arguments in final if keyword == "RUN")
    assert re.search(r"useradd\b.*--uid 10001\b.*\bmodstream\b", runs)
    assert any(keyword == "WORKDIR" for keyword, _ in final)
    entrypoints = [arguments for keyword, arguments in final if keyword == "ENTRYPOINT"]
    assert entrypoints
    assert json.loads(entrypoints[-1]) == ["modstream"]
    cmds = [arguments for keyword, arguments in final if keyword == "CMD"]
    assert cmds
    assert json.loads(cmds[-1]) == ["serve", "--no-sink"]


def test_image_trains_the_model_from_the_data_build_context(compose: dict[str, Any]) -> None:
    stages = dockerfile_stages()
    names = {name for _, name, _ in stages}
    *builders, (_, _, final) = stages
    build_text = " ".join(args for _, _, instructions in builders for _, args in instructions)
    assert "--from=data" in build_text
    assert re.search(
        r"MODSTREAM_TRAINING_DATA=\S+.*\bmodstream train --output /opt/models", build_text
    )
    final_text = " ".join(args for _, args in final)
    copies = [args.split() for keyword, args in final if keyword == "COPY"]
    assert any(
        parts[0].startswith("--from=")
        and parts[0].removeprefix("--from=") in names
        and parts[-2:] == ["/opt/models", "/opt/models"]
        for parts in copies
    ), "the runtime stage must copy the trained model from the builder"
    assert "MODSTREAM_MODEL_DIR=/opt/models" in final_text
    assert "--from=data" not in final_text, "the training data must not reach the runtime image"
    # Every non-stage `--from=` must be a named context Compose provides.
    contexts = set(compose["x-modstream"]["build"].get("additional_contexts", {}))
    for _, _, instructions in stages:
        for _, arguments in instructions:
            for source in re.findall(r"--from=(\S+)", arguments):
                assert source in names or source in contexts, f"unknown build context {source}"


def test_image_installs_the_locked_serving_dependencies_without_torch() -> None:
    installs = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "RUN":
            assert not re.search(r"\btorch\b", arguments), "torch is for training only"
            assert not re.search(r"\[[^\]]*\btrain\b[^\]]*\]", arguments), "the train extra"
            installs += re.findall(r"pip install [^&;]*", arguments)
    assert installs, "the image installs nothing"
    for install in installs:
        assert "-c constraints.txt" in install, f"not under the project's lock: {install}"


def test_image_bakes_in_no_secret() -> None:
    for keyword, arguments in dockerfile_instructions():
        if keyword in ("ENV", "ARG"):
            assert not any(word in arguments.upper() for word in SECRET_WORDS), (
                f"{keyword} {arguments}"
            )


def test_build_context_keeps_out_secrets_and_keeps_in_the_sources() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".git", ".venv", "tests"} <= ignored
    for keyword, arguments in dockerfile_instructions():
        if keyword != "COPY" or "--from=" in arguments:
            continue
        *sources, _ = arguments.split()
        for source in sources:
            assert source not in ignored, f"{source} is copied but .dockerignore drops it"
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"


# ---------------------------------------------------------------------------------------------
# Metrics: Prometheus scrapes each service where it serves, Grafana shows the dashboard
# ---------------------------------------------------------------------------------------------

PROMETHEUS_FILE = ROOT / "infra" / "prometheus.yml"
DASHBOARD_FILE = ROOT / "infra" / "grafana" / "modstream-dashboard.json"


def test_prometheus_scrapes_every_service_that_serves_metrics(
    services: dict[str, dict[str, Any]],
) -> None:
    from infra.settings import MetricsSettings

    config = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    targets: dict[str, str] = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets[job["job_name"]] = static["targets"][0]
        for dns in job.get("dns_sd_configs", []):
            targets[job["job_name"]] = f"{dns['names'][0]}:{dns['port']}"
    defaults = MetricsSettings()
    api_port = environment(services["api"]).get("MODSTREAM_API_PORT") or "8000"
    assert targets == {
        "api": f"api:{api_port}",
        "worker": f"worker:{defaults.worker_port}",
        "strikes": f"strikes:{defaults.strikes_port}",
        "sink": f"sink:{defaults.sink_port}",
    }
    for name in targets:
        assert environment(services[name]).get("MODSTREAM_METRICS_HOST") == "0.0.0.0", name
    mounted = " ".join(services["prometheus"]["volumes"])
    assert "./infra/prometheus.yml:/etc/prometheus/prometheus.yml" in mounted


def test_the_dashboard_charts_only_metrics_the_services_export(
    services: dict[str, dict[str, Any]],
) -> None:
    import json

    from prometheus_client import REGISTRY

    import infra.metrics  # noqa: F401 - registers the metrics

    families = {family.name for family in REGISTRY.collect()}
    dashboard = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    named = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bmodstream_[a-z_]+", target["expr"])
    }
    assert len(named) >= 10
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    missing = {n for n in named if not any(n.removesuffix(s) in families for s in suffixes if s)}
    missing -= families  # a gauge is named as it is
    assert not missing
    mounted = " ".join(services["grafana"]["volumes"])
    assert "modstream-dashboard.json" in mounted
