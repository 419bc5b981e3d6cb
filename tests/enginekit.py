"""A second Docker engine of the tests' own, to stop and start while a session runs on it.

The machine's engine is never touched (apart from reading the base image out of it with
``docker save``). The second ``dockerd`` runs as root with everything of its own: socket,
data root, exec root (so its own containerd), pid file, an empty configuration file (the
machine's /etc/docker/daemon.json is not read), cgroup parent, and a network set-up that
cannot clash with the machine's engine: its own bridge interface on a subnet no route of the
host uses, a default address pool in another unused subnet, and no iptables, masquerading or
ip forwarding changes at all (it needs no outside network: the test scenarios build from
the base image alone). Never ``--bridge=none``: a dockerd told that deletes the host's
``docker0``, the machine engine's own bridge (the kit checks that every interface of the host
is still there when it is done).

Sessions are pointed at it with DOCKER_HOST, which the docker SDK (``docker.from_env``), the
docker and docker-compose CLIs and the scenarios' scripts all honour; ``libreplay.engine.docker_api
.client()`` keeps one client per DOCKER_HOST, so in-process callers need not clear a cache.

``second_engine`` is a session-scoped fixture: one daemon per test run, started again
between phases; teardown removes it all (containers, networks, mounts, bridges, processes,
directories) also when a test failed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import psutil
import pytest

BASE_IMAGE = "debian:bookworm-slim"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30


class SecondEngine:
    """One dockerd of our own, under ``root``; ``host`` is its DOCKER_HOST."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.data_root = root / "data"
        self.exec_root = root / "exec"
        self.pidfile = root / "docker.pid"
        self.log = root / "dockerd.log"
        self.bridge = f"rbkt{os.getpid() % 100000}"  # at most 15 characters, like every interface
        bridge_net, pool = _two_unused_subnets()
        self.bridge_address = f"{next(bridge_net.hosts())}/{bridge_net.prefixlen}"
        self.pool = f"base={pool},size=24"
        self.storage_driver = _machine_storage_driver()
        self.cgroup_parent = f"/replaybook-enginekit-{os.getpid()}"
        self.process: subprocess.Popen[bytes] | None = None
        self.networks_seen: set[str] = set()
        self.host_links = _links()  # the machine's interfaces: none of them may go

    # -- lifecycle ---------------------------------------------------------------------------

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "daemon.json").write_text("{}\n")
        _ip("link", "add", "name", self.bridge, "type", "bridge")
        _ip("addr", "add", self.bridge_address, "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def argv(self) -> list[str]:
        return [
            "dockerd",
            "--config-file", str(self.root / "daemon.json"),
            "--host", self.host,
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile),
            "--storage-driver", self.storage_driver,
            "--bridge", self.bridge,
            "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip-forward=false",
            "--default-address-pool", self.pool,
            "--cgroup-parent", self.cgroup_parent,
            # Without it, a restart with an address pool set deletes the host's docker0 (moby
            # removes the *default* bridge's interface when it finds a stale "bridge" network).
            "--live-restore",
            "--userland-proxy=false",
            "--shutdown-timeout", "2",
            "--log-level", "warn",
        ]  # fmt: skip

    def start(self) -> None:
        """Start the daemon (if it is not running) and wait until it answers."""
        if self.running():
            return
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the second dockerd exited {self.process.returncode}:\n{self.log_tail()}")
            if self.answers():
                self._check_host_links()
                return
            time.sleep(0.1)
        raise RuntimeError(f"the second dockerd did not answer within {START_TIMEOUT_SECONDS} s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the daemon with ``sig`` (SIGTERM: its own shutdown; SIGKILL: gone at once)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.networks_seen |= self._network_ids()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        # Its containerd goes with it (a parent-death signal); wait until it has.
        for child in self._processes_of_ours("containerd --config"):
            with contextlib.suppress(psutil.Error):
                child.wait(timeout=STOP_TIMEOUT_SECONDS)
        # A killed daemon leaves its pid files; a later process given one of those pids would
        # pass for a dockerd or containerd still running, and the next start would wait on it.
        for stale in (self.pidfile, self.exec_root / "containerd" / "containerd.pid"):
            stale.unlink(missing_ok=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def answers(self) -> bool:
        try:
            with contextlib.closing(self.client(timeout=2)) as api:
                return bool(api.ping())
        except Exception:  # noqa: BLE001 - not up (yet)
            return False

    def client(self, timeout: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # -- content -----------------------------------------------------------------------------

    def load_base_image(self, machine_env: dict[str, str]) -> None:
        """``docker save`` from the machine's engine into ``docker load`` of this one."""
        save = subprocess.Popen(
            ["docker", "save", BASE_IMAGE], stdout=subprocess.PIPE, env=machine_env
        )
        load = subprocess.run(
            ["docker", "--host", self.host, "load"], stdin=save.stdout, capture_output=True,
            env=machine_env, check=False, timeout=300,
        )  # fmt: skip
        assert save.stdout is not None
        save.stdout.close()
        save.wait(timeout=60)
        if save.returncode != 0 or load.returncode != 0:
            raise RuntimeError(f"could not load {BASE_IMAGE} into the second engine: {load.stderr!r}")

    def labelled(self, label: str) -> list[str]:
        """Containers, networks and volumes carrying ``label`` (``key`` or ``key=value``)."""
        with contextlib.closing(self.client()) as api:
            found = [f"container {c.name}" for c in api.containers.list(all=True, filters={"label": label})]
            found += [f"network {n.name}" for n in api.networks.list(filters={"label": label})]
            found += [f"volume {v.name}" for v in api.volumes.list(filters={"label": label})]
        return found

    def clear(self) -> None:
        """Remove every container, network and volume (the engine is ours alone); keep images."""
        with contextlib.closing(self.client()) as api:
            for container in api.containers.list(all=True):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True, v=True)
            for network in api.networks.list():
                if network.name not in ("bridge", "host", "none"):
                    with contextlib.suppress(docker.errors.NotFound):
                        network.remove()
            for volume in api.volumes.list():
                with contextlib.suppress(docker.errors.NotFound):
                    volume.remove(force=True)

    # -- teardown ----------------------------------------------------------------------------

    def destroy(self) -> None:
        """Everything of this engine gone: content, daemon, shims, mounts, bridges, files."""
        with contextlib.suppress(Exception):
            self.start()
            self.clear()
        self.stop()
        for leftover in self._processes_of_ours(str(self.root)):
            with contextlib.suppress(psutil.Error):
                leftover.kill()
        for mount in _mounts_under(self.root):
            subprocess.run(["umount", "--lazy", mount], check=False, capture_output=True)
        for network_id in self.networks_seen:
            _ip("link", "del", f"br-{network_id[:12]}", check=False)
        _ip("link", "del", self.bridge, check=False)
        _remove_cgroups(self.cgroup_parent)
        shutil.rmtree(self.root, ignore_errors=True)
        self._check_host_links()

    def _check_host_links(self) -> None:
        gone = self.host_links - _links()
        assert not gone, f"the second engine took host interfaces away: {sorted(gone)}"

    def _network_ids(self) -> set[str]:
        if not self.answers():
            return set()
        with contextlib.closing(self.client()) as api:
            return {str(n.id) for n in api.networks.list()}

    def _processes_of_ours(self, marker: str) -> list[psutil.Process]:
        """Processes whose command line names this engine's directory (containerd, shims)."""
        found = []
        for process in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if str(self.root) in cmdline and marker in cmdline:
                found.append(process)
        return found


def _remove_cgroups(parent: str) -> None:
    """The cgroup parent's directories in every hierarchy, children first (buildkit's, the
    containers'): each is empty of processes once the daemon and its containers are gone."""
    for top in Path("/sys/fs/cgroup").glob(f"*/{parent.lstrip('/')}"):
        for directory in sorted((d for d in top.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def _links() -> set[str]:
    """The machine's lasting interfaces (docker0 among them). The veth pairs and br- bridges of
    the machine engine's own containers come and go with them, so they are not counted."""
    listed = subprocess.run(["ip", "-json", "link", "show"], capture_output=True, text=True, check=True)
    names = {str(link["ifname"]) for link in json.loads(listed.stdout or "[]")}
    return {name for name in names if not name.startswith(("veth", "br-"))}


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def _machine_storage_driver() -> str:
    """The machine engine's storage driver is known to work on this kernel: use it too."""
    with contextlib.closing(docker.from_env(timeout=30)) as api:
        return str(api.info().get("Driver") or "overlay2")


def _two_unused_subnets() -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]:
    """A /24 for the bridge and a /16 for the address pool that no route of the host touches."""
    routes = json.loads(subprocess.run(
        ["ip", "-json", "route", "show", "table", "all"], capture_output=True, text=True, check=True
    ).stdout or "[]")  # fmt: skip
    used = []
    for route in routes:
        with contextlib.suppress(ValueError):
            if route.get("dst") not in (None, "default") and ":" not in route["dst"]:
                used.append(ipaddress.ip_network(route["dst"], strict=False))
    free = [
        net for second in range(200, 250)
        if not any((net := ipaddress.ip_network(f"10.{second}.0.0/16")).overlaps(u) for u in used)
    ]  # fmt: skip
    if len(free) < 2:
        raise RuntimeError("no two unused 10.x.0.0/16 subnets for the second engine")
    return next(free[0].subnets(new_prefix=24)), free[1]


def _mounts_under(root: Path) -> list[str]:
    """Mount points below ``root``, deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == str(root) or point.startswith(f"{root}/"):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def _machine_has_base_image() -> bool:
    with contextlib.closing(docker.from_env(timeout=30)) as api:
        try:
            api.images.get(BASE_IMAGE)
        except docker.errors.ImageNotFound:
            return False
    return True


@pytest.fixture(scope="session")
def second_engine() -> Iterator[SecondEngine]:
    """One second dockerd for the test run, with the base image loaded; removed at the end."""
    if os.geteuid() != 0 or shutil.which("dockerd") is None or shutil.which("ip") is None:
        pytest.skip("a second Docker engine needs root, dockerd and ip")
    if not _machine_has_base_image():
        pytest.fail(f"{BASE_IMAGE} is not on the machine's engine: run `make setup` first")
    machine_env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    engine = SecondEngine(Path(tempfile.mkdtemp(prefix="rbk-eng-", dir="/tmp")))
    try:
        engine.create()
        engine.start()
        engine.load_base_image(machine_env)
        yield engine
    finally:
        engine.destroy()


@contextlib.contextmanager
def use(engine: SecondEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecondEngine]:
    """Point this process and every child it starts at ``engine`` for the block (in-process,
    libreplay.engine.docker_api keeps a client per DOCKER_HOST, so no cached client leaks across)."""
    engine.start()
    monkeypatch.setenv("DOCKER_HOST", engine.host)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    try:
        yield engine
    finally:
        engine.start()  # a test that stopped it may have failed before starting it again
        engine.clear()
