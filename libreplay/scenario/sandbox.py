"""What a session runs: the pack's compose file as Compose itself resolves it, checked against
an allow-list, then rewritten for one session.

The validator must read the document the engine runs, not the pack's YAML: interpolation
(``${X:-host}``), anchors and merge keys are resolved by Compose (``config --format json``),
with an environment scrubbed of every host variable, and the *resolved* model is checked.
The session then starts from that very model, written to its state directory — the pack's
YAML is never read again. See docs/scenario-format.md ("What a scenario may run").

Everything a scenario may use is listed here; everything else is refused with its file and
field named. A bind of a path in the scenario directory mounts a per-session copy of it that
leaves out what would give the answer away (meta.json, the scenario's scripts, fault files).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from libreplay.core.errors import ScenarioInvalid
from libreplay.core.proc import run
from libreplay.engine.compose import compose_argv
from libreplay.scenario.model import Scenario, is_inside, show_value

RESOLVE_TIMEOUT_SECONDS = 30
VALIDATION_PROJECT = "replaybook-validate"
# Compose reads no host variable while resolving: PATH alone, and a value that says nothing about
# the user (``${PATH}`` in a compose file yields exactly this).
SCRUBBED_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RESERVED_LABEL_PREFIXES = ("com.docker.compose.", "org.replaybook.")
OWN_IMAGE_PREFIX = "replaybook/"
# `always` would re-tag a local image of that name with the registry's; the others never do.
SAFE_PULL_POLICIES = ("missing", "if_not_present", "never", "build")

# -- the allow-list ----------------------------------------------------------------------------

# Service settings that act only inside the container (or on the session's own objects).
FREE_SERVICE_KEYS = frozenset(
    {
        "command",
        "entrypoint",
        "environment",
        "working_dir",
        "user",
        "hostname",
        "domainname",
        "healthcheck",
        "depends_on",
        "restart",
        "stop_signal",
        "stop_grace_period",
        "init",
        "tty",
        "stdin_open",
        "expose",
        "mem_limit",
        "mem_reservation",
        "memswap_limit",
        "mem_swappiness",
        "cpus",
        "cpu_shares",
        "cpu_quota",
        "cpu_period",
        "cpuset",
        "pids_limit",
        "ulimits",
        "shm_size",
        "read_only",
        "dns",
        "dns_search",
        "dns_opt",
        "cap_drop",
        "platform",
        "profiles",
        "group_add",
        "mac_address",
        "tmpfs",
        "attach",
    }
)
# Docker's default capabilities, plus those that act only inside the container's own
# namespaces (NET_ADMIN: its own network namespace; SYS_PTRACE: its own processes, since no
# scenario may share the host's pid namespace; SYS_NICE/SYS_RESOURCE/IPC_LOCK: its own limits).
ALLOWED_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
        "NET_ADMIN",
        "SYS_PTRACE",
        "SYS_NICE",
        "SYS_RESOURCE",
        "IPC_LOCK",
        "IPC_OWNER",
        "LEASE",
    }
)
MAX_REPLICAS = 4  # containers of one service (scale, deploy.replicas)
ALLOWED_SECURITY_OPTS = frozenset({"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"})
# Sysctls that belong to the container's own network or IPC namespace (Docker's own list).
NAMESPACED_SYSCTLS = ("net.", "kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue.")
# The hint channel travels on the shell container's log stream: the log driver must keep it.
ALLOWED_LOG_DRIVERS = frozenset({"json-file", "local"})
DEFAULT_LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}  # json-file's own default is unbounded
BUILD_KEYS = frozenset(
    {
        "context",
        "dockerfile",
        "dockerfile_inline",
        "args",
        "target",
        "labels",
        "network",
        "shm_size",
        "extra_hosts",
        "platforms",
        "pull",
        "no_cache",
        "additional_contexts",
    }
)
SERVICE_NETWORK_KEYS = frozenset({"aliases", "priority"})
TOP_LEVEL_KEYS = frozenset({"name", "services", "networks", "volumes", "secrets", "configs"})
NETWORK_KEYS = frozenset({"name", "driver", "internal", "attachable", "labels", "ipam"})
VOLUME_KEYS = frozenset({"name", "driver", "labels"})
FILE_OBJECT_KEYS = frozenset({"name", "file", "content"})  # top-level secrets and configs
REMOTE_CONTEXT = re.compile(r"(?:https?://|git://|git@|ssh://)")
IMAGE_CONTEXT = ("docker-image://", "service:")
WARNING_LINE = re.compile(r'level=warning msg="((?:[^"\\]|\\.)*)"')
# Published ports: bound on the host's loopback only, whatever the file says, and only from an
# allow-list of ranges where no service a host tool trusts at 127.0.0.1 listens by convention
# (outside them a container could stand in for ssh, DNS, the Docker API, Postgres, Redis, Vault…
# whenever the real one is not running). Compose writes `mode: ingress` itself; on one engine
# neither mode changes anything, and the session's model leaves it out.
LOOPBACK = "127.0.0.1"
PORT_KEYS = frozenset({"target", "published", "protocol", "host_ip", "mode"})
PORT_PROTOCOLS = ("tcp", "udp")
PORT_MODES = ("ingress", "host")
PUBLISHED_PORT_RANGES = ((8080, 8099), (18000, 19999))
MAX_PUBLISHED_PORTS = 64  # per scenario: a range of thousands would be thousands of bindings
HIGHEST_PORT = 65535


@dataclass
class Mount:
    """One bind source of the pack, and its per-session copy."""

    source: Path  # resolved, inside the scenario directory
    copy: str = ""  # the session's copy: a path on the engine's host (session/bindcopies.py)


@dataclass(frozen=True)
class HostPort:
    """A port a scenario publishes on the host (always on LOOPBACK): ``published`` on the host
    reaches ``target`` of ``service``'s container."""

    service: str
    published: int
    target: int
    protocol: str = "tcp"

    @property
    def address(self) -> str:
        """``127.0.0.1:8080``, with ``/udp`` for a UDP port."""
        suffix = "" if self.protocol == "tcp" else f"/{self.protocol}"
        return f"{LOOPBACK}:{self.published}{suffix}"

    def entry(self) -> dict[str, Any]:
        """The port as the session's model publishes it."""
        return {"target": self.target, "published": str(self.published), "protocol": self.protocol,
                "host_ip": LOOPBACK}


@dataclass
class ResolvedModel:
    """The model Compose resolved, checked; what the session will run."""

    model: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    mounts: dict[Path, Mount] = field(default_factory=dict)

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.model["services"]
        return services

    @property
    def host_ports(self) -> tuple[HostPort, ...]:
        """What the model publishes on the host (read after :func:`check` accepted it)."""
        return model_ports(self.model)


def model_ports(model: Any) -> tuple[HostPort, ...]:
    """What a compose model (resolved, or a session's own) publishes on the host."""
    services = as_dict(as_dict(model).get("services"))
    return tuple(port for name, spec in services.items() for port in service_ports(name, spec))


def service_ports(service: str, spec: Any) -> list[HostPort]:
    """The ports a resolved service publishes with a host port; entries :func:`check` refuses
    (no host port, a range) are left out."""
    found = []
    for entry in as_list(as_dict(spec).get("ports")):
        port = as_dict(entry)
        published, target = _port_number(port.get("published")), _port_number(port.get("target"))
        if published is not None and target is not None:
            found.append(HostPort(service, published, target, str(port.get("protocol", "tcp"))))
    return found


PUBLISHABLE = " or ".join(f"{low}-{high}" for low, high in PUBLISHED_PORT_RANGES)


def publishable(port: int) -> bool:
    """Whether a scenario may publish ``port`` on the host's loopback (PUBLISHED_PORT_RANGES)."""
    return any(low <= port <= high for low, high in PUBLISHED_PORT_RANGES)


def _port_number(value: Any) -> int | None:
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(HIGHEST_PORT))):
        return None
    return int(text) if 0 < int(text) <= HIGHEST_PORT else None


# -- running Compose ---------------------------------------------------------------------------


def resolve(scenario: Scenario, project: str) -> ResolvedModel:
    """Compose's own reading of the scenario's compose file, with no host variable in sight."""
    env = {"PATH": SCRUBBED_PATH}
    result = run(
        compose_argv(
            "--project-name", project, "--project-directory", str(scenario.directory),
            "--file", str(scenario.compose_file), "config", "--format", "json",
        ),
        timeout=RESOLVE_TIMEOUT_SECONDS, cwd=scenario.directory, env=env,
    )  # fmt: skip
    name = scenario.compose_file.name
    if not result.ok:
        raise ScenarioInvalid(
            str(scenario.directory), [f"{name}: {_compose_message(result.stderr, scenario)}"]
        )
    try:
        model = json.loads(result.stdout)
    except ValueError:
        raise ScenarioInvalid(str(scenario.directory), [f"{name}: Compose printed no model"]) from None
    if not isinstance(model, dict) or not isinstance(model.get("services"), dict):
        raise ScenarioInvalid(str(scenario.directory), [f"{name}: Compose resolved no services"])
    warnings = [f"{name}: {_unescape(m)}" for m in WARNING_LINE.findall(result.stderr)]
    return ResolvedModel(model, warnings)


def _compose_message(stderr: str, scenario: Scenario) -> str:
    """Compose's complaint, without its log prefix and the scenario's absolute path."""
    lines = [line for line in stderr.strip().splitlines() if "level=warning" not in line]
    text = " ".join(lines[-3:]) or "Compose could not read it"
    text = text.replace(f"{scenario.compose_file}: ", "").replace(str(scenario.directory) + "/", "")
    return text.removeprefix("validating ").strip()


def _unescape(message: str) -> str:
    return message.replace('\\"', '"').replace("\\\\", "\\")


# -- checking the resolved model ---------------------------------------------------------------


def check(scenario: Scenario, project: str) -> ResolvedModel:
    """Resolve and check; raise ScenarioInvalid listing every setting the allow-list refuses."""
    resolved = resolve(scenario, project)
    checker = _Checker(scenario, project, resolved)
    checker.check()
    if checker.problems:
        raise ScenarioInvalid(str(scenario.directory), checker.problems)
    return resolved


def validate(scenario: Scenario) -> list[str]:
    """What ``replay-validate`` adds to the static checks: the resolved model's verdict."""
    return check(scenario, VALIDATION_PROJECT).warnings


class _Checker:
    """Walks the resolved model; every key is either allowed (and checked) or refused."""

    def __init__(self, scenario: Scenario, project: str, resolved: ResolvedModel) -> None:
        self.scenario = scenario
        self.root = scenario.directory.resolve()
        self.project = project
        self.resolved = resolved
        self.model = resolved.model
        self.file = scenario.compose_file.name
        self.problems: list[str] = []
        self.hidden = hidden_paths(scenario)
        self.ports_seen: set[tuple[int, str]] = set()  # (host port, protocol) of every service

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.file}: {where}: {message}")

    def check(self) -> None:
        if self.model.get("name") != self.project:
            self.problem("name", "a scenario must not name its Compose project")
        for key in sorted(set(self.model) - TOP_LEVEL_KEYS):
            if not key.startswith("x-"):
                self.problem(key, "not allowed in a scenario")
        services = self.resolved.services
        missing = set(self.scenario.services) - set(services)
        for name in sorted(missing):
            self.problem(f"services.{name}", "is not started by Compose (profiles?): every service must run")
        for name in sorted(set(services) - set(self.scenario.services)):
            self.problem(f"services.{name}", "comes from another file: every service belongs in this one")
        self._objects("networks", NETWORK_KEYS, self._network)
        self._objects("volumes", VOLUME_KEYS, self._volume)
        for section in ("secrets", "configs"):
            self._objects(section, FILE_OBJECT_KEYS, self._file_object)
        for name, spec in sorted(services.items()):
            self._service(f"services.{name}", name, as_dict(spec))

    # -- top level -------------------------------------------------------------------------

    def _objects(
        self, section: str, allowed: frozenset[str], check_one: Callable[[str, dict[str, Any]], None]
    ) -> None:
        for name, spec in sorted(as_dict(self.model.get(section)).items()):
            where = f"{section}.{name}"
            spec = as_dict(spec)  # noqa: PLW2901 - the same entry, as a mapping
            if spec.get("external"):
                self.problem(f"{where}.external", "a scenario must not use an object it did not create")
                continue
            self._refuse_unknown(where, spec, allowed | {"external"})
            check_one(where, spec)

    def _own_name(self, where: str, key: str, spec: dict[str, Any]) -> None:
        expected = f"{self.project}_{key}"
        if spec.get("name", expected) != expected:
            self.problem(f"{where}.name", "must not be set: a session's objects carry its own project name")

    def _network(self, where: str, spec: dict[str, Any]) -> None:
        self._own_name(where, where.split(".", 1)[1], spec)
        if spec.get("driver", "bridge") != "bridge":
            self.problem(
                f"{where}.driver", f"only bridge networks are allowed, got {show_value(spec['driver'])}"
            )
        ipam = as_dict(spec.get("ipam"))
        if ipam.get("config") or ipam.get("driver") not in (None, "default"):
            self.problem(
                f"{where}.ipam", "fixed subnets are not allowed: Docker allocates each session's own"
            )
        self._labels(f"{where}.labels", spec.get("labels"))

    def _volume(self, where: str, spec: dict[str, Any]) -> None:
        self._own_name(where, where.split(".", 1)[1], spec)
        if spec.get("driver", "local") != "local":
            self.problem(
                f"{where}.driver", f"only local volumes are allowed, got {show_value(spec['driver'])}"
            )
        self._labels(f"{where}.labels", spec.get("labels"))

    def _file_object(self, where: str, spec: dict[str, Any]) -> None:
        if "file" in spec:
            self._mount_source(f"{where}.file", spec["file"])
        elif "content" not in spec:
            self.problem(where, "needs a file in the scenario directory or inline content")

    # -- services --------------------------------------------------------------------------

    def _service(self, where: str, name: str, spec: dict[str, Any]) -> None:
        checks: dict[str, Callable[[str, Any], None]] = {
            "build": self._build,
            "image": self._image,
            "pull_policy": lambda w, v: self._one_of(w, v, SAFE_PULL_POLICIES),
            "oom_score_adj": self._oom_score,
            "oom_kill_disable": lambda w, v: self._one_of(w, v, (False,)),
            "volumes": self._service_volumes,
            "networks": self._service_networks,
            "network_mode": lambda w, v: self._joins(w, v, ("none",)),
            "pid": lambda w, v: self._joins(w, v, ()),
            "ipc": lambda w, v: self._joins(w, v, ("private", "shareable", "none")),
            "cgroup": lambda w, v: self._one_of(w, v, ("private",)),
            "privileged": lambda w, v: self._one_of(w, v, (False,)),
            "cap_add": self._capabilities,
            "security_opt": self._security_opts,
            "sysctls": self._sysctls,
            "logging": self._logging,
            "deploy": self._deploy,
            "scale": self._replicas,
            "volumes_from": self._services_named,
            "links": self._services_named,
            "labels": self._labels,
            "extra_hosts": self._extra_hosts,
            "secrets": self._file_refs,
            "configs": self._file_refs,
            "ports": lambda w, v: self._ports(w, name, v),
            "container_name": lambda _w, _v: None,  # dropped for the session (a static warning says so)
        }
        for key, value in spec.items():
            if key in FREE_SERVICE_KEYS:
                continue
            check_one = checks.get(key)
            if check_one is None:
                self.problem(
                    f"{where}.{key}", "not allowed in a scenario (docs/scenario-format.md lists what is)"
                )
            else:
                check_one(f"{where}.{key}", value)
        if "build" not in spec and not spec.get("image"):
            self.problem(where, "needs an image or a build")

    def _build(self, where: str, value: Any) -> None:
        build = as_dict(value)
        self._refuse_unknown(where, build, BUILD_KEYS)
        context = str(build.get("context", ""))
        dockerfile = build.get("dockerfile")
        if REMOTE_CONTEXT.match(context):
            pass  # a context the engine fetches itself (a git URL) reads nothing from this host
        elif not self._buildable(context):
            self.problem(f"{where}.context", f"must be in {self.build_place}, got {show_value(context)}")
        elif isinstance(dockerfile, str) and not self._buildable(str(Path(context) / dockerfile)):
            self.problem(f"{where}.dockerfile",
                         f"must be in {self.build_place}, got {show_value(dockerfile)}")
        if build.get("network") not in (None, "default", "none"):
            self.problem(
                f"{where}.network",
                f"only the default build network is allowed, got {show_value(build['network'])}",
            )
        for name, extra in as_dict(build.get("additional_contexts")).items():
            text = str(extra)
            if not (text.startswith(IMAGE_CONTEXT) or REMOTE_CONTEXT.match(text) or self._buildable(text)):
                self.problem(f"{where}.additional_contexts.{name}",
                             f"must be in {self.build_place}, got {show_value(text)}")
        self._labels(f"{where}.labels", build.get("labels"))
        self._extra_hosts(f"{where}.extra_hosts", build.get("extra_hosts"))

    def _ports(self, where: str, service: str, value: Any) -> None:
        """Each published port: a fixed host port in PUBLISHED_PORT_RANGES, TCP or UDP, once in
        the scenario, and one a URL can name as the file writes it; bound on LOOPBACK only."""
        written = {(port.host_port, port.container_port)
                   for port in self.scenario.published_ports if port.service == service}
        entries = as_list(value)
        if len(self.ports_seen) + len(entries) > MAX_PUBLISHED_PORTS:
            self.problem(where, f"a scenario publishes at most {MAX_PUBLISHED_PORTS} ports, got more")
            return
        for index, entry in enumerate(entries):
            spot = f"{where}[{index}]"
            port = as_dict(entry)
            self._refuse_unknown(spot, port, PORT_KEYS)
            if port.get("protocol", "tcp") not in PORT_PROTOCOLS:
                self.problem(f"{spot}.protocol", f"must be tcp or udp, got {show_value(port['protocol'])}")
            if port.get("mode", "ingress") not in PORT_MODES:
                self.problem(f"{spot}.mode", f"must be ingress or host, got {show_value(port['mode'])}")
            host_ip = port.get("host_ip")
            if host_ip not in (None, LOOPBACK):
                self.resolved.warnings.append(
                    f"{self.file}: {spot}.host_ip: published on {LOOPBACK} only, not {show_value(host_ip)}"
                )
            published = self._published(spot, port)
            if published is None:
                continue
            key = (published, str(port.get("protocol", "tcp")))
            if key in self.ports_seen:
                self.problem(f"{spot}.published", f"{published}/{key[1]} is published twice in this scenario")
            self.ports_seen.add(key)
            if key[1] == "tcp" and (published, _port_number(port.get("target"))) not in written:
                self.problem(
                    f"{spot}.published",
                    f"{published} is not written as a number in {self.file} (a variable?): write "
                    f'"{published}:{port.get("target")}", so a localhost URL can be read without Compose',
                )

    def _published(self, spot: str, port: dict[str, Any]) -> int | None:
        """The host port of one entry, or None after saying why it cannot be published."""
        value = port.get("published")
        if value is None or value == "":
            self.problem(
                spot,
                f"container port {show_value(port.get('target'))} has no host port: publish a fixed one "
                f'("18080:{port.get("target")}"), or list it under expose: if only the network needs it',
            )
            return None
        published = _port_number(value)
        if published is None:
            self.problem(f"{spot}.published", f"must be one port number, got {show_value(value)}")
        elif not publishable(published):
            self.problem(
                f"{spot}.published",
                f"{published} is outside the ports a scenario may publish ({PUBLISHABLE}): elsewhere "
                f"a container could stand in for a service the host trusts on 127.0.0.1; publish e.g. "
                f'"18080:{port.get("target")}"',
            )
            return None
        return published

    def _service_volumes(self, where: str, value: Any) -> None:
        volumes = set(as_dict(self.model.get("volumes")))
        for index, entry in enumerate(as_list(value)):
            spot = f"{where}[{index}]"
            volume = as_dict(entry)
            kind = volume.get("type")
            if kind == "bind":
                self._refuse_unknown(
                    spot, volume, {"type", "source", "target", "read_only", "bind", "consistency"}
                )
                self._refuse_unknown(f"{spot}.bind", as_dict(volume.get("bind")), {"create_host_path"})
                self._mount_source(f"{spot}.source", volume.get("source"))
            elif kind == "volume":
                self._refuse_unknown(
                    spot, volume, {"type", "source", "target", "read_only", "volume", "consistency"}
                )
                self._refuse_unknown(f"{spot}.volume", as_dict(volume.get("volume")), {"nocopy"})
                source = volume.get("source")
                if source is not None and source not in volumes:
                    self.problem(f"{spot}.source", f"{show_value(source)} is not a volume of this file")
            elif kind == "tmpfs":
                self._refuse_unknown(spot, volume, {"type", "target", "read_only", "tmpfs", "consistency"})
            else:
                self.problem(
                    f"{spot}.type",
                    f"only bind (inside the scenario), volume and tmpfs are allowed, got {show_value(kind)}",
                )

    def _mount_source(self, where: str, source: Any) -> None:
        """A pack path a container will see: inside the scenario, and not one that gives the answer."""
        if not isinstance(source, str) or not self._inside(source):
            self.problem(where, f"must be a path in the scenario directory, got {show_value(source)}")
            return
        path = Path(source).resolve()
        if any(path == hidden or path.is_relative_to(hidden) for hidden in self.hidden):
            relative = path.relative_to(self.root)
            self.problem(
                where,
                f"{relative} is the scenario's own (meta.json, a script or a fault file): "
                "a trainee must not see it",
            )
            return
        self.resolved.mounts.setdefault(path, Mount(path))

    def _service_networks(self, where: str, value: Any) -> None:
        networks = set(as_dict(self.model.get("networks")))
        for name, spec in as_dict(value).items():
            if name not in networks:
                self.problem(f"{where}.{name}", "is not a network of this file")
            self._refuse_unknown(f"{where}.{name}", as_dict(spec), SERVICE_NETWORK_KEYS)

    def _joins(self, where: str, value: Any, allowed: Iterable[str]) -> None:
        """A namespace setting: one of ``allowed``, or ``service:NAME`` of this scenario."""
        text = str(value)
        if text in allowed:
            return
        if text.startswith("service:") and text.removeprefix("service:") in self.resolved.services:
            return
        choices = ", ".join([*allowed, "service:NAME"])
        self.problem(where, f"must be one of {choices} (a service of this scenario), got {show_value(value)}")

    def _one_of(self, where: str, value: Any, allowed: tuple[Any, ...]) -> None:
        if value not in allowed:
            self.problem(where, f"not allowed in a scenario, got {show_value(value)}")

    def _image(self, where: str, value: Any) -> None:
        # replaybook's own names (the probe, built services) are made here: a pack that named one
        # could have a registry's image of that name replace it for every later session.
        if str(value).startswith(OWN_IMAGE_PREFIX):
            self.problem(where, f"{show_value(value)}: names under {OWN_IMAGE_PREFIX} are replaybook's own")

    def _oom_score(self, where: str, value: Any) -> None:
        if not isinstance(value, int) or value < 0:
            self.problem(
                where, f"must be 0 or more (a container the host cannot OOM-kill), got {show_value(value)}"
            )

    def _capabilities(self, where: str, value: Any) -> None:
        for cap in as_list(value):
            name = str(cap).upper().removeprefix("CAP_")
            if name not in ALLOWED_CAPABILITIES:
                self.problem(
                    where,
                    f"{cap} is not an allowed capability ({', '.join(sorted(ALLOWED_CAPABILITIES))})",
                )

    def _security_opts(self, where: str, value: Any) -> None:
        for option in as_list(value):
            if str(option).replace(" ", "") not in ALLOWED_SECURITY_OPTS:
                self.problem(where, f"{show_value(option)} is not allowed (only no-new-privileges)")

    def _sysctls(self, where: str, value: Any) -> None:
        for name in names_of(value):
            if not str(name).startswith(NAMESPACED_SYSCTLS):
                self.problem(f"{where}.{name}", "only sysctls of the container's own namespaces are allowed")

    def _logging(self, where: str, value: Any) -> None:
        logging = as_dict(value)
        self._refuse_unknown(where, logging, {"driver", "options"})
        if logging.get("driver", "json-file") not in ALLOWED_LOG_DRIVERS:
            self.problem(
                f"{where}.driver", f"must be json-file or local, got {show_value(logging.get('driver'))}"
            )

    def _deploy(self, where: str, value: Any) -> None:
        deploy = as_dict(value)
        if deploy.get("placement") == {}:  # Compose's own resolution writes an empty placement
            deploy = {key: part for key, part in deploy.items() if key != "placement"}
        self._refuse_unknown(where, deploy, {"resources", "replicas", "labels", "restart_policy"})
        if "replicas" in deploy:
            self._replicas(f"{where}.replicas", deploy["replicas"])
        resources = as_dict(deploy.get("resources"))
        self._refuse_unknown(f"{where}.resources", resources, {"limits", "reservations"})
        for part in ("limits", "reservations"):
            self._refuse_unknown(
                f"{where}.resources.{part}", as_dict(resources.get(part)), {"cpus", "memory", "pids"}
            )

    def _replicas(self, where: str, value: Any) -> None:
        """Each container of a session is held under the host's ceiling (session/limits.py): a
        service's replicas multiply it, so a training host sizes sessions by a bounded count."""
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_REPLICAS:
            self.problem(where, f"{show_value(value)}: at most {MAX_REPLICAS} containers of a service")

    def _services_named(self, where: str, value: Any) -> None:
        """``volumes_from`` (``NAME[:ro|rw]``) and ``links`` (``NAME[:ALIAS]``): services of this
        scenario only. ``container:…`` is refused as such, even beside a service called
        ``container``, since Compose reads it as a container anywhere on the engine."""
        for entry in as_list(value):
            text = str(entry)
            if text.startswith("container:") or text.split(":", 1)[0] not in self.resolved.services:
                self.problem(where, f"{show_value(entry)} is not a service of this scenario")

    def _labels(self, where: str, value: Any) -> None:
        for name in names_of(value):
            if str(name).startswith(RESERVED_LABEL_PREFIXES):
                self.problem(
                    f"{where}.{name}",
                    "labels of Compose and replaybook name a session's objects: not settable",
                )

    def _extra_hosts(self, where: str, value: Any) -> None:
        entries = as_dict(value).values() if isinstance(value, dict) else as_list(value)
        for entry in entries:
            if "host-gateway" in str(entry):
                self.problem(where, "host-gateway points a name at the host: not allowed")

    def _file_refs(self, where: str, value: Any) -> None:
        section = where.rsplit(".", 1)[1]
        declared = set(as_dict(self.model.get(section)))
        for index, entry in enumerate(as_list(value)):
            source = as_dict(entry).get("source", entry)
            if source not in declared:
                self.problem(
                    f"{where}[{index}]", f"{show_value(source)} is not declared in this file's {section}"
                )

    # -- helpers ---------------------------------------------------------------------------

    def _refuse_unknown(self, where: str, spec: dict[str, Any], allowed: Iterable[str]) -> None:
        for key in sorted(set(spec) - set(allowed)):
            self.problem(
                f"{where}.{key}", "not allowed in a scenario (docs/scenario-format.md lists what is)"
            )

    def _inside(self, path: str) -> bool:
        """Compose resolves every path of the model to an absolute one; anything else is odd."""
        return bool(path) and PurePosixPath(path).is_absolute() and is_inside(self.root, Path(path))

    def _buildable(self, path: str) -> bool:
        """Where an image may be built from: the scenario directory, or its track's (the image a
        track shares; docs/scenario-format.md, "Tracks"). Mounts stay the scenario's own."""
        if self._inside(path):
            return True
        track = self.scenario.track
        return (track is not None and PurePosixPath(path).is_absolute()
                and is_inside(track.directory, Path(path)))

    @property
    def build_place(self) -> str:
        if self.scenario.track is None:
            return "the scenario directory"
        return f"the scenario directory or its track's ({self.scenario.track.directory.name}/)"


def hidden_paths(scenario: Scenario) -> set[Path]:
    """What a container must never see of the pack: the answer, the checks, the guards and the
    faults."""
    root = scenario.directory.resolve()
    names = {"meta.json", scenario.compose_file.name, ".git", ".env", "break.sh", "check.sh", "solve.sh"}
    names |= {p.name for p in root.glob("README*")}
    names |= {guard.script for guard in scenario.guards if guard.script}
    for fault in scenario.faults:
        names |= {n for n in (fault.script, fault.solve) if n}
        names |= {step.src for step in fault.steps if step.src}
    return {(root / name).resolve() for name in names}


# -- small helpers -----------------------------------------------------------------------------


def without_nulls(value: Any) -> dict[str, Any]:
    return {k: v for k, v in as_dict(value).items() if v is not None}


def labels_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    return dict(str(e).partition("=")[::2] for e in as_list(value))


def names_of(value: Any) -> list[str]:
    """The names of a ``{name: value}`` mapping or a ``["name=value"]`` list (labels, sysctls)."""
    return [str(name) for name in labels_dict(value)]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]
