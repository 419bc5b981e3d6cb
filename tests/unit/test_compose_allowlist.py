"""The hostile compose corpus: what Compose would run, checked against the allow-list.

Each case is a compose file a sloppy or hostile pack could ship. ``replay-validate`` resolves it
with Compose itself (no engine is contacted) and must refuse it naming file and field, or — for
the cases marked harmless — resolve it to something that cannot reach the host. The session
model tests check what a session actually runs: images, environment, binds.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import BASE_COMPOSE, unpacking_binds, write_scenario
from typer.testing import CliRunner

from libreplay.core.errors import ScenarioInvalid
from libreplay.engine import compose as compose_engine
from libreplay.engine.compose import compose_program
from libreplay.scenario import sandbox
from libreplay.scenario.load import load_scenario
from libreplay.session.model import SessionParts, session_model
from replaybook.commands import validate as validate_command

WEB = "docker-compose.yml: services.web"
TOP = "docker-compose.yml"


def web(**changes: Any) -> dict[str, Any]:
    compose = copy.deepcopy(BASE_COMPOSE)
    compose["services"]["web"].update(changes)
    return compose


def with_top(section: str, body: dict[str, Any], **service: Any) -> dict[str, Any]:
    """BASE_COMPOSE plus a top-level section that the web service uses."""
    compose = web(**service)
    compose[section] = body
    return compose


@dataclass
class Hostile:
    name: str
    expected: str
    compose: dict[str, Any] | None = None
    compose_text: str | None = None
    files: dict[str, str | None] = field(default_factory=dict)

    def write(self, directory: Path) -> Path:
        return write_scenario(
            directory, compose=self.compose, compose_text=self.compose_text, files=self.files
        )


ANCHORS = 'x-a: &a\n  pid: host\nx-b: &b\n  pid: "service:app"\n'
HOSTILE = [
    # -- interpolation: the value Compose runs, not the text the pack shows -------------------
    Hostile("pid-interpolated", f"{WEB}.pid: must be one of service:NAME", web(pid="${X:-host}")),
    Hostile(
        "network-mode-interpolated",
        f"{WEB}.network_mode: must be one of none, service:NAME",
        web(network_mode="${X:-host}"),
    ),
    Hostile("ipc-interpolated", f"{WEB}.ipc: must be one of private", web(ipc="${X:-host}")),
    # -- a service's containers multiply the host's per-container ceiling ------------------------
    Hostile("scale", f"{WEB}.scale: 100: at most 4 containers of a service", web(scale=100)),
    Hostile("replicas", f"{WEB}.deploy.replicas: 50: at most 4 containers of a service",
            web(deploy={"replicas": 50})),
    Hostile("uts-interpolated", f"{WEB}.uts: not allowed in a scenario", web(uts="${X:-host}")),
    Hostile(
        "cap-interpolated",
        f"{WEB}.cap_add: SYS_ADMIN is not an allowed capability",
        web(cap_add=["${X:-SYS_ADMIN}"]),
    ),
    Hostile(
        "seccomp-interpolated",
        f"{WEB}.security_opt: 'seccomp=unconfined' is not allowed",
        web(security_opt=["${X:-seccomp=unconfined}"]),
    ),
    Hostile(
        "privileged-interpolated",
        f"{WEB}.privileged: not allowed in a scenario, got true",
        web(privileged="${X:-true}"),
    ),
    Hostile(
        "home-in-a-bind",
        f"{WEB}.volumes[0].source: must be a path in the scenario directory, got '/.ssh'",
        web(volumes=["${HOME}/.ssh:/root/.ssh"]),
    ),
    Hostile(
        "bind-interpolated",
        f"{WEB}.volumes[0].source: must be a path in the scenario directory",
        web(volumes=["${X:-/etc}:/host"]),
    ),
    # -- merge keys: Compose's merge decides -------------------------------------------------
    Hostile(
        "merge-keys-several-anchors",
        f"{WEB}.pid: must be one of service:NAME",
        compose_text=ANCHORS + "services:\n  web:\n    <<: [*a, *b]\n    image: x\n  app:\n    image: x\n",
    ),
    Hostile(
        "merge-key-adds-capability",
        f"{WEB}.cap_add: SYS_MODULE is not an allowed capability",
        compose_text="x-c: &c\n  cap_add: [SYS_MODULE]\nservices:\n  web:\n    <<: *c\n    image: x\n"
        "  app:\n    image: x\n",
    ),
    # -- namespaces, privileges, capabilities, confinement -----------------------------------
    Hostile("privileged", f"{WEB}.privileged: not allowed in a scenario, got true", web(privileged=True)),
    Hostile("host-network", f"{WEB}.network_mode: must be one of none", web(network_mode="host")),
    Hostile("default-bridge", f"{WEB}.network_mode: must be one of none", web(network_mode="bridge")),
    Hostile(
        "other-container-network",
        f"{WEB}.network_mode: must be one of none",
        web(network_mode="container:some-other-container"),
    ),
    Hostile("host-pid", f"{WEB}.pid: must be one of service:NAME", web(pid="host")),
    Hostile(
        "ptrace-with-host-pid",
        f"{WEB}.pid: must be one of service:NAME",
        web(pid="host", cap_add=["SYS_PTRACE"]),
    ),
    Hostile("host-cgroup", f"{WEB}.cgroup: not allowed in a scenario, got 'host'", web(cgroup="host")),
    Hostile("userns-host", f"{WEB}.userns_mode: not allowed in a scenario", web(userns_mode="host")),
    Hostile(
        "cap-sys-admin",
        f"{WEB}.cap_add: SYS_ADMIN is not an allowed capability",
        web(cap_add=["NET_ADMIN", "SYS_ADMIN"]),
    ),
    Hostile("cap-all", f"{WEB}.cap_add: ALL is not an allowed capability", web(cap_add=["ALL"])),
    Hostile(
        "cap-prefixed",
        f"{WEB}.cap_add: CAP_DAC_READ_SEARCH is not an allowed capability",
        web(cap_add=["CAP_DAC_READ_SEARCH"]),
    ),
    Hostile(
        "seccomp-unconfined",
        f"{WEB}.security_opt: 'seccomp:unconfined' is not allowed",
        web(security_opt=["seccomp:unconfined"]),
    ),
    Hostile(
        "seccomp-host-profile",
        f"{WEB}.security_opt: 'seccomp=/etc/profile.json' is not allowed",
        web(security_opt=["seccomp=/etc/profile.json"]),
    ),
    Hostile(
        "apparmor-unconfined",
        f"{WEB}.security_opt: 'apparmor=unconfined' is not allowed",
        web(security_opt=["apparmor=unconfined"]),
    ),
    Hostile("host-device", f"{WEB}.devices: not allowed in a scenario", web(devices=["/dev/sda:/dev/sda"])),
    Hostile(
        "device-cgroup-rules",
        f"{WEB}.device_cgroup_rules: not allowed in a scenario",
        web(device_cgroup_rules=["b 8:* rmw"]),
    ),
    Hostile("cgroup-parent", f"{WEB}.cgroup_parent: not allowed in a scenario", web(cgroup_parent="/")),
    Hostile("runtime", f"{WEB}.runtime: not allowed in a scenario", web(runtime="runc")),
    Hostile(
        "host-sysctl",
        f"{WEB}.sysctls.kernel.core_pattern: only sysctls of the container's own",
        web(sysctls={"kernel.core_pattern": "|/tmp/x"}),
    ),
    Hostile(
        "no-log-stream",
        f"{WEB}.logging.driver: must be json-file or local, got 'none'",
        web(logging={"driver": "none"}),
    ),
    Hostile(
        "host-gateway",
        f"{WEB}.extra_hosts: host-gateway points a name at the host",
        web(extra_hosts=["host.docker.internal:host-gateway"]),
    ),
    Hostile(
        "gpu-reservation",
        f"{WEB}.deploy.resources.reservations.devices: not allowed",
        web(deploy={"resources": {"reservations": {"devices": [{"capabilities": ["gpu"]}]}}}),
    ),
    # -- mounts ------------------------------------------------------------------------------
    Hostile(
        "docker-socket",
        f"{WEB}.volumes[0].source: must be a path in the scenario directory",
        web(volumes=["/var/run/docker.sock:/var/run/docker.sock"]),
    ),
    Hostile(
        "docker-socket-long",
        f"{WEB}.volumes[0].source: must be a path in the scenario directory",
        web(volumes=[{"type": "bind", "source": "/run/docker.sock", "target": "/d.sock"}]),
    ),
    Hostile(
        "host-bind",
        f"{WEB}.volumes[0].source: must be a path in the scenario directory, got '/etc'",
        web(volumes=["/etc:/host-etc:ro"]),
    ),
    Hostile(
        "relative-bind-escapes",
        f"{WEB}.volumes[0].source: must be a path in the scenario directory",
        web(volumes=["../..:/up"]),
    ),
    Hostile(
        "long-bind-escapes",
        f"{WEB}.volumes[0].source: must be a path in the scenario directory",
        web(volumes=[{"type": "bind", "source": "sub/../../..", "target": "/up"}]),
    ),
    Hostile(
        "bind-through-link",
        f"{WEB}.volumes[0].source: must be a path in the scenario directory",
        web(volumes=["./etc-link:/x"]),
        files={"etc-link": "symlink:/etc"},
    ),
    Hostile(
        "bind-of-the-answer",
        f"{WEB}.volumes[0].source: solve.sh is the scenario's own",
        web(volumes=["./solve.sh:/tmp/solve.sh"]),
    ),
    Hostile(
        "bind-of-meta",
        f"{WEB}.volumes[0].source: meta.json is the scenario's own",
        web(volumes=["./meta.json:/tmp/meta.json"]),
    ),
    Hostile(
        "bind-of-a-fault-file",
        f"{WEB}.volumes[0].source: broken/default.conf is the scenario's own",
        web(volumes=["./broken/default.conf:/etc/x.conf"]),
    ),
    Hostile(
        "bind-propagation",
        f"{WEB}.volumes[0].bind.propagation: not allowed",
        web(
            volumes=[
                {"type": "bind", "source": "./broken", "target": "/b", "bind": {"propagation": "shared"}}
            ]
        ),
    ),
    Hostile(
        "volumes-from-container",
        f"{WEB}.volumes_from: 'container:other' is not a service",
        web(volumes_from=["container:other"]),
    ),
    Hostile(
        "npipe-mount",
        f"{WEB}.volumes[0].type: only bind (inside the scenario), volume and tmpfs",
        web(volumes=[{"type": "npipe", "source": "x", "target": "/x"}]),
    ),
    Hostile(
        "bind-backed-volume",
        f"{TOP}: volumes.data.driver_opts: not allowed",
        with_top(
            "volumes",
            {"data": {"driver": "local", "driver_opts": {"type": "none", "o": "bind", "device": "/"}}},
            volumes=["data:/data"],
        ),
    ),
    Hostile(
        "block-device-volume",
        f"{TOP}: volumes.data.driver_opts: not allowed",
        with_top(
            "volumes",
            {"data": {"driver_opts": {"type": "ext4", "device": "/dev/sda1"}}},
            volumes=["data:/data"],
        ),
    ),
    Hostile(
        "volume-plugin",
        f"{TOP}: volumes.data.driver: only local volumes are allowed",
        with_top("volumes", {"data": {"driver": "sshfs"}}, volumes=["data:/data"]),
    ),
    Hostile(
        "secret-host-file",
        f"{TOP}: secrets.key.file: must be a path in the scenario directory",
        with_top("secrets", {"key": {"file": "/root/.ssh/id_rsa"}}, secrets=["key"]),
    ),
    Hostile(
        "config-escapes",
        f"{TOP}: configs.c.file: must be a path in the scenario directory",
        with_top("configs", {"c": {"file": "sub/../../../etc/shadow"}}, configs=["c"]),
    ),
    Hostile(
        "secret-from-host-env",
        f"{TOP}: secrets.key.environment: not allowed",
        with_top("secrets", {"key": {"environment": "AWS_SECRET_ACCESS_KEY"}}, secrets=["key"]),
    ),
    # -- names: a session's objects are its own --------------------------------------------------
    Hostile(
        "shared-volume-name",
        f"{TOP}: volumes.data.name: must not be set",
        with_top("volumes", {"data": {"name": "replaybook-othersession_data"}}, volumes=["data:/d"]),
    ),
    Hostile(
        "shared-network-name",
        f"{TOP}: networks.default.name: must not be set",
        with_top("networks", {"default": {"name": "replaybook-othersession_default"}}),
    ),
    Hostile(
        "external-network",
        f"{TOP}: networks.n.external: a scenario must not use an object",
        with_top("networks", {"n": {"external": True, "name": "host"}}, networks=["n"]),
    ),
    Hostile(
        "external-volume",
        f"{TOP}: volumes.v.external: a scenario must not use an object",
        with_top(
            "volumes", {"v": {"external": True}}, volumes=[{"type": "volume", "source": "v", "target": "/v"}]
        ),
    ),
    Hostile(
        "host-driver-network",
        f"{TOP}: networks.n.driver: only bridge networks are allowed",
        with_top("networks", {"n": {"driver": "macvlan"}}, networks=["n"]),
    ),
    Hostile(
        "fixed-subnet",
        f"{TOP}: networks.n.ipam: fixed subnets are not allowed",
        with_top("networks", {"n": {"ipam": {"config": [{"subnet": "10.0.0.0/8"}]}}}, networks=["n"]),
    ),
    Hostile(
        "bridge-name-option",
        f"{TOP}: networks.n.driver_opts: not allowed",
        with_top(
            "networks", {"n": {"driver_opts": {"com.docker.network.bridge.name": "docker0"}}}, networks=["n"]
        ),
    ),
    Hostile(
        "claims-another-session",
        f"{WEB}.labels.com.docker.compose.project: labels of Compose",
        web(labels={"com.docker.compose.project": "replaybook-othersession"}),
    ),
    Hostile(
        "claims-another-home",
        f"{WEB}.labels.org.replaybook.home: labels of Compose",
        web(labels=["org.replaybook.home=0123456789ab"]),
    ),
    Hostile(
        "volumes-from-beside-a-service-named-container",
        f"{WEB}.volumes_from: 'container:other' is not a",
        {
            "services": {
                **web(volumes_from=["container:other"])["services"],
                "container": {"image": "debian:bookworm-slim"},
            }
        },
    ),
    Hostile(
        "links-to-a-container",
        'docker-compose.yml: service "web" depends on undefined service "container"',
        web(links=["container:other"]),
    ),
    Hostile(
        "own-image-name",
        f"{WEB}.image: 'replaybook/probe:0123456789ab': names under replaybook/ are",
        web(image="replaybook/probe:0123456789ab"),
    ),
    Hostile(
        "pull-always",
        f"{WEB}.pull_policy: not allowed in a scenario, got 'always'",
        web(pull_policy="always"),
    ),
    Hostile("unkillable", f"{WEB}.oom_score_adj: must be 0 or more", web(oom_score_adj=-1000)),
    Hostile(
        "oom-killer-off",
        f"{WEB}.oom_kill_disable: not allowed in a scenario, got true",
        web(oom_kill_disable=True),
    ),
    Hostile(
        "build-host-gateway",
        f"{WEB}.build.extra_hosts: host-gateway points a name at the host",
        web(build={"context": ".", "extra_hosts": ["h:host-gateway"]}),
    ),
    # -- builds ------------------------------------------------------------------------------
    Hostile(
        "build-context-outside",
        f"{WEB}.build.context: must be in the scenario directory",
        web(build={"context": "../.."}),
    ),
    Hostile(
        "additional-context-host",
        f"{WEB}.build.additional_contexts.root: must be in the scenario",
        web(build={"context": ".", "additional_contexts": {"root": "/"}}),
    ),
    Hostile(
        "dockerfile-outside",
        f"{WEB}.build.dockerfile: must be in the scenario directory",
        web(build={"context": ".", "dockerfile": "/etc/Dockerfile"}),
    ),
    Hostile(
        "build-host-network",
        f"{WEB}.build.network: only the default build network is allowed",
        web(build={"context": ".", "network": "host"}),
    ),
    Hostile(
        "build-ssh-agent", f"{WEB}.build.ssh: not allowed", web(build={"context": ".", "ssh": ["default"]})
    ),
    Hostile(
        "build-secret",
        f"{WEB}.build.secrets: not allowed",
        with_top("secrets", {"s": {"file": "./broken/x"}}, build={"context": ".", "secrets": ["s"]}),
        files={"broken/x": "x"},
    ),
    Hostile(
        "build-retags",
        f"{WEB}.build.tags: not allowed",
        web(build={"context": ".", "tags": ["debian:bookworm-slim"]}),
    ),
    # -- shapes Compose itself refuses: its message, naming the file -------------------------------
    Hostile("ports-number", f"{WEB}.ports must be a list", web(ports=80)),
    Hostile("volumes-list", f"{TOP}: volumes must be a mapping", {**BASE_COMPOSE, "volumes": ["a"]}),
    Hostile("environment-string", f"{WEB}.environment must be a mapping", web(environment="A=1")),
    Hostile("build-context-number", f"{WEB}.build.context must be a string", web(build={"context": 5})),
]
# Resolve to something that cannot reach the host: the scrubbed environment has no HOME.
HARMLESS = [
    ("project-name-is-replaced", {**BASE_COMPOSE, "name": "replaybook-othersession"}),
    ("tilde-in-a-bind", web(volumes=["~/.ssh:/root/.ssh"])),
    ("home-in-a-context", web(build={"context": "./${HOME}"})),
    ("merge-keys-safe-first", None),
    ("unused-host-network", {**BASE_COMPOSE, "networks": {"hostnet": {"external": True, "name": "host"}}}),
    (
        "own-namespaces",
        {
            "services": {
                "web": {
                    **BASE_COMPOSE["services"]["web"],
                    "network_mode": "service:app",
                    "pid": "service:app",
                    "ipc": "shareable",
                    "cap_add": ["SYS_PTRACE"],
                    "security_opt": ["no-new-privileges:true"],
                    "sysctls": {"net.core.somaxconn": 1024},
                },
                "app": BASE_COMPOSE["services"]["app"],
            }
        },
    ),
    (
        "own-objects",
        with_top(
            "volumes",
            {"data": None},
            volumes=["data:/data", "./broken:/srv/broken:ro", {"type": "tmpfs", "target": "/tmp"}],
        ),
    ),
]


def test_the_hostile_corpus_is_large_and_distinct() -> None:
    assert len(HOSTILE) >= 60
    assert len({case.name for case in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("case", HOSTILE, ids=lambda case: case.name)
def test_validate_refuses_what_compose_would_run(
    case: Hostile, tmp_path: Path, replaybook_home: Path
) -> None:
    directory = case.write(tmp_path / case.name)
    before = sorted(directory.rglob("*"))

    result = CliRunner().invoke(validate_command.app, [str(directory)])

    assert result.exit_code == 3, result.output
    assert case.expected in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert sorted(directory.rglob("*")) == before
    assert list(replaybook_home.iterdir()) == []


@pytest.mark.parametrize(("name", "compose"), HARMLESS, ids=[name for name, _ in HARMLESS])
def test_harmless_forms_pass(name: str, compose: dict[str, Any] | None, tmp_path: Path) -> None:
    text = None
    if compose is None:
        text = ANCHORS + "services:\n  web:\n    <<: [*b, *a]\n    image: x\n  app:\n    image: x\n"
    directory = write_scenario(tmp_path / name, compose=compose, compose_text=text)
    sandbox.validate(load_scenario(directory))


def test_merge_keys_are_judged_as_compose_merges_them(tmp_path: Path) -> None:
    """Both orders of two anchors: the verdict follows the value Compose itself resolves."""
    for order, refused in (("[*a, *b]", True), ("[*b, *a]", False)):
        text = ANCHORS + f"services:\n  web:\n    <<: {order}\n    image: x\n  app:\n    image: x\n"
        directory = write_scenario(tmp_path / order.strip("[]*, ").replace(", *", ""), compose_text=text)
        resolved = subprocess.run(
            [
                compose_program(),
                "-p",
                "x",
                "--project-directory",
                str(directory),
                "config",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": os.environ["PATH"]},
        ).stdout
        assert (json.loads(resolved)["services"]["web"]["pid"] == "host") is refused
        if refused:
            with pytest.raises(ScenarioInvalid):
                sandbox.validate(load_scenario(directory))
        else:
            sandbox.validate(load_scenario(directory))


def test_no_host_variable_reaches_the_resolved_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/secret-user")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    directory = write_scenario(
        tmp_path / "env",
        compose=web(
            environment={
                "FROM_HOME": "${HOME:-unset}",
                "KEY": "${AWS_SECRET_ACCESS_KEY}",
                "PASSED": None,
                "LITERAL": "$$HOME",
            }
        ),
    )
    resolved = sandbox.resolve(load_scenario(directory), "replaybook-t")
    environment = resolved.services["web"]["environment"]
    assert environment["FROM_HOME"] == "unset"
    assert environment["KEY"] == ""
    assert environment["PASSED"] is None  # dropped from the session model (next test)
    assert "hunter2" not in json.dumps(resolved.model) and "secret-user" not in json.dumps(resolved.model)
    assert any("AWS_SECRET_ACCESS_KEY" in warning for warning in resolved.warnings)


def _session(tmp_path: Path, compose: dict[str, Any], **files: str) -> tuple[dict[str, Any], Path]:
    directory = write_scenario(tmp_path / "pack" / "s1", compose=compose, files=dict(files))
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    parts = SessionParts(
        project="replaybook-abc",
        session_dir=session_dir,
        labels={"org.replaybook.session": "abc"},
        image_name=lambda service: f"replaybook/s1-{service}:test",
        probe={"image": "replaybook/probe:test", "labels": {"org.replaybook.session": "abc"}},
        hold_binds=unpacking_binds(tmp_path / "engine"),
    )
    session_model(load_scenario(directory), parts)
    return json.loads((session_dir / "compose.json").read_text()), session_dir


def test_the_session_model_owns_images_names_environment_and_ports(tmp_path: Path) -> None:
    compose = web(
        build={"context": ".", "args": {"FROM_ENV": None, "SET": "1"}},
        image="debian:bookworm-slim",
        environment={"PASSED": None, "SET": "1"},
        container_name="fixed",
    )
    model, _ = _session(tmp_path, compose, Dockerfile="FROM debian:bookworm-slim\n")
    web_service = model["services"]["web"]
    assert web_service["image"] == "replaybook/s1-web:test"  # never the pack's name: no re-tagging
    assert web_service["build"]["args"] == {"SET": "1"}
    assert web_service["environment"] == {"SET": "1"}
    assert "container_name" not in web_service
    # "8080:80" is published on the host's loopback only (tests/unit/test_upstream_shapes.py)
    loopback = {"target": 80, "published": "8080", "protocol": "tcp", "host_ip": "127.0.0.1"}
    assert web_service["ports"] == [loopback]
    assert web_service["labels"]["org.replaybook.session"] == "abc"
    assert model["networks"]["default"]["name"] == "replaybook-abc_default"
    assert model["networks"]["default"]["labels"] == {"org.replaybook.session": "abc"}
    assert model["services"]["replaybook-probe"]["networks"] == {"default": None}
    assert not any(key.startswith("x-") for key in model)
    bounded = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    assert web_service["logging"] == bounded and model["services"]["replaybook-probe"]["logging"] == bounded


def test_binds_mount_a_copy_without_the_answer(tmp_path: Path) -> None:
    compose = web(volumes=[".:/srv/pack", "./conf:/etc/conf:ro", "./missing:/srv/missing"])
    model, session_dir = _session(
        tmp_path,
        compose,
        **{
            "conf/app.conf": "x=1\n",
            "check.sh": "exit 0\n",
            "README.md": "the answer\n",
            "notes.txt": "ok\n",
        },
    )
    sources = [Path(v["source"]) for v in model["services"]["web"]["volumes"]]
    # Each copy is held by the engine (here unpacked as the engine would): no host path of the
    # session's is bound (tests/integration/test_remote_engine.py: on a real second engine).
    assert all(source.is_relative_to(tmp_path / "engine") for source in sources)
    assert [v["source"].split("/")[-2] for v in model["services"]["web"]["volumes"]] == [
        "replaybook-abc_bind-0", "replaybook-abc_bind-1", "replaybook-abc_bind-2"]
    assert sorted(p.name for p in session_dir.iterdir()) == ["compose.json"]
    assert all(v["bind"] == {"create_host_path": False} for v in model["services"]["web"]["volumes"])
    pack_copy = sources[0]
    # meta.json, the compose file, the scripts, README and the fault file are left out.
    assert sorted(p.name for p in pack_copy.iterdir()) == ["broken", "conf", "notes.txt"]
    assert list((pack_copy / "broken").iterdir()) == []  # the fault file is left out, its folder stays
    assert (sources[1] / "app.conf").read_text() == "x=1\n"
    assert sources[2].is_dir() and not (tmp_path / "pack" / "s1" / "missing").exists()


def test_a_guard_script_is_never_bound_nor_copied_into_a_bind(tmp_path: Path) -> None:
    guards = [{"name": "kept", "condition": "exit_zero", "script": "guards/kept.sh", "message": "gone"}]
    directory = write_scenario(tmp_path / "pack" / "s1", meta={"guards": guards},
                               compose=web(volumes=[".:/srv/pack"]), files={"guards/kept.sh": "exit 0\n"})
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    parts = SessionParts(project="replaybook-abc", session_dir=session_dir, labels={},
                         image_name=lambda service: f"replaybook/s1-{service}:test",
                         hold_binds=unpacking_binds(tmp_path / "engine"))
    session_model(load_scenario(directory), parts)
    model = json.loads((session_dir / "compose.json").read_text())
    pack_copy = Path(model["services"]["web"]["volumes"][0]["source"])
    assert (pack_copy / "guards").is_dir() and list((pack_copy / "guards").iterdir()) == []
    bound = write_scenario(tmp_path / "pack" / "s2", meta={"guards": guards},
                           compose=web(volumes=["./guards/kept.sh:/tmp/kept.sh"]),
                           files={"guards/kept.sh": "exit 0\n"})
    refused = CliRunner().invoke(validate_command.app, [str(bound)])
    assert refused.exit_code == 3 and "guards/kept.sh is the scenario's own" in refused.stderr


def test_a_loop_of_links_in_a_bound_directory_is_copied_as_links(tmp_path: Path) -> None:
    directory = tmp_path / "pack" / "s1" / "data"
    directory.mkdir(parents=True)
    (directory / "a").symlink_to("b")
    (directory / "b").symlink_to("a")
    (directory / "answer").symlink_to("../solve.sh")  # a link to the answer is the answer: left out
    model, _ = _session(tmp_path, web(volumes=["./data:/data"]))
    copy = Path(model["services"]["web"]["volumes"][0]["source"])
    assert sorted(p.name for p in copy.iterdir()) == ["a", "b"]
    assert (copy / "a").is_symlink() and str((copy / "a").readlink()) == "b"


def test_the_pack_cannot_lift_the_log_bound(tmp_path: Path) -> None:
    model, _ = _session(
        tmp_path, web(logging={"driver": "json-file", "options": {"max-size": "100g", "tag": "x"}})
    )
    assert model["services"]["web"]["logging"]["options"] == {"max-size": "10m", "max-file": "3", "tag": "x"}


def test_a_refused_model_writes_no_session_model(tmp_path: Path) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        _session(tmp_path, web(privileged=True, volumes=["./conf:/c"]), **{"conf/a": "1"})
    assert f"{WEB}.privileged: not allowed in a scenario, got true" in caught.value.problems
    assert list((tmp_path / "session").iterdir()) == []


def test_a_missing_compose_program_is_an_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from libreplay.core.errors import EnvironmentProblem

    compose_program.cache_clear()
    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent")
    monkeypatch.setattr(compose_engine, "PLUGIN_DIRS", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        with pytest.raises(EnvironmentProblem):
            compose_program()
    finally:
        compose_program.cache_clear()


def test_valid_variants_of_the_static_corpus_also_resolve(tmp_path: Path) -> None:
    directory = write_scenario(
        tmp_path / "ok", compose=web(volumes=["./broken:/srv/broken:ro"]), files={"broken/other.conf": "x\n"}
    )
    assert sandbox.validate(load_scenario(directory)) == []


def test_an_old_docker_compose_on_path_is_not_taken_for_v2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from libreplay.core.errors import EnvironmentProblem

    v1 = tmp_path / "docker-compose"
    v1.write_text("#!/bin/sh\necho 1.29.2\n")
    v1.chmod(0o755)
    compose_program.cache_clear()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    monkeypatch.setattr(compose_engine, "PLUGIN_DIRS", ())
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    try:
        with pytest.raises(EnvironmentProblem):
            compose_program()
        v1.write_text("#!/bin/sh\necho 2.26.1\n")
        assert compose_program() == str(v1)
    finally:
        compose_program.cache_clear()
