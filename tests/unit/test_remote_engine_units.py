"""Remote engines (issue 15), without an engine: which engine is local, a context's TLS material,
what a bind copy sends, and what the port check and the doctor leave to a remote engine.

Against a real second engine: tests/integration/test_remote_engine.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
from pathlib import Path

import pytest

from libreplay.engine import docker_api
from libreplay.host import doctor
from libreplay.scenario.sandbox import HostPort
from libreplay.session import ports
from libreplay.session.bindcopies import BindCopy, bind_archive


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("unix:///var/run/docker.sock", True),
        ("unix:///tmp/rbk-eng-x/docker.sock", True),
        ("npipe:////./pipe/docker_engine", True),
        ("tcp://127.0.0.1:2375", True),
        ("tcp://localhost:2376", True),
        ("tcp://[::1]:2376", True),
        ("tcp://docker:2376", False),
        ("tcp://10.0.0.5:2376", False),
        ("ssh://trainer@training-host", False),
    ],
)
def test_which_engine_is_local(address: str, local: bool) -> None:
    assert docker_api.engine_is_local(address) is local


def write_context(config: Path, name: str, host: str, *, tls: bool = False) -> None:
    """A context as `docker context create` lays it out under DOCKER_CONFIG."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint: dict[str, object] = {"Host": host, "SkipTLSVerify": False}
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": endpoint}}))
    if tls:
        material = config / "contexts" / "tls" / digest / "docker"
        material.mkdir(parents=True)
        for file in ("ca.pem", "cert.pem", "key.pem"):
            (material / file).write_text(f"{file}\n")


def test_a_context_s_tls_material_reaches_the_sdk_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "docker-config"
    write_context(config, "training", "tcp://training-host:2376", tls=True)
    write_context(config, "plain", "tcp://training-host:2375")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    made: list[tuple[str, object]] = []

    def fake_client(host: str, tls_dir: str = "", skip_verify: bool = False) -> object:
        made.append((host, docker_api._context_tls(tls_dir, skip_verify)))
        return object()

    monkeypatch.setattr(docker_api, "_new_client", fake_client)
    monkeypatch.setattr(docker_api, "_clients", {})

    monkeypatch.setenv("DOCKER_CONTEXT", "training")
    docker_api.client()
    host, tls = made[-1]
    assert host == "tcp://training-host:2376"
    material = config / "contexts" / "tls" / hashlib.sha256(b"training").hexdigest() / "docker"
    assert tls.cert == (str(material / "cert.pem"), str(material / "key.pem"))  # type: ignore[attr-defined]
    assert tls.verify is True and tls.ca_cert == str(material / "ca.pem")  # type: ignore[attr-defined]
    assert not docker_api.engine_is_local()

    monkeypatch.setenv("DOCKER_CONTEXT", "plain")
    docker_api.client()
    assert made[-1] == ("tcp://training-host:2375", False)

    monkeypatch.setenv("DOCKER_HOST", "unix:///elsewhere.sock")  # DOCKER_HOST wins, as for the CLI
    assert docker_api.engine_address() == "unix:///elsewhere.sock" and docker_api.engine_is_local()


def test_an_ssh_engine_without_paramiko_is_refused_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """paramiko is the optional `ssh` extra: without it, a clear EnvironmentProblem (exit 5),
    not the SDK's error from deep inside a command."""
    import importlib.util

    from libreplay.core.errors import EnvironmentProblem

    real_find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "paramiko" else real_find(name, *a))
    monkeypatch.setattr(docker_api, "_clients", {})
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "ssh://trainer@training-host")
    with pytest.raises(EnvironmentProblem, match="paramiko") as refused:
        docker_api.client()
    assert "replaybook[ssh]" in (refused.value.hint or "")


def archive_members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_a_bind_copy_sends_the_source_without_the_answer(tmp_path: Path) -> None:
    scenario = tmp_path / "s1"
    (scenario / "conf" / ".git").mkdir(parents=True)
    (scenario / "conf" / "app.conf").write_text("workers = 4\n")
    (scenario / "conf" / "app.conf").chmod(0o640)
    (scenario / "conf" / ".git" / "HEAD").write_text("ref\n")
    (scenario / "conf" / "solve.sh").write_text("the answer\n")
    (scenario / "conf" / "current").symlink_to("app.conf")
    hidden = {(scenario / "conf" / "solve.sh").resolve()}

    sent = bind_archive(BindCopy(0, (scenario / "conf").resolve()), hidden)
    members = archive_members(sent)

    assert sorted(members) == ["conf", "conf/app.conf", "conf/current"]
    assert members["conf/app.conf"].mode & 0o777 == 0o640
    assert members["conf/current"].issym() and members["conf/current"].linkname == "app.conf"
    with tarfile.open(fileobj=io.BytesIO(sent)) as tar:
        extracted = tar.extractfile("conf/app.conf")
        assert extracted is not None and extracted.read() == b"workers = 4\n"


def test_a_file_bind_sends_one_file_and_a_missing_source_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text("events {}\n")
    one = archive_members(bind_archive(BindCopy(3, tmp_path / "nginx.conf"), set()))
    assert list(one) == ["nginx.conf"] and one["nginx.conf"].isreg()
    missing = archive_members(bind_archive(BindCopy(1, tmp_path / "data"), set()))
    assert list(missing) == ["data"] and missing["data"].isdir()
    assert BindCopy(3, tmp_path / "nginx.conf").volume("replaybook-abc") == "replaybook-abc_bind-3"


def test_a_remote_engine_s_ports_are_not_probed_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port held on this machine's loopback says nothing of the remote host's."""
    monkeypatch.setattr(ports, "_session_on_engine", lambda port, excluding: None)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = HostPort("web", held.getsockname()[1], 80)
        monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
        assert ports.holder_of(port) == ports.Holder()  # local: another program holds it
        monkeypatch.setenv("DOCKER_HOST", "ssh://trainer@training-host")
        assert ports.holder_of(port) is None  # remote: the engine's start is the judge


def test_the_doctor_does_not_measure_a_remote_engine_s_disk_here() -> None:
    measured: list[Path] = []

    def free_bytes(path: Path) -> int:
        measured.append(path)
        return 50 * 1024**3

    host = doctor.Host(
        which=lambda name: f"/usr/bin/{name}",
        run=lambda argv: (0, "2.26.1\n"),
        engine=lambda: doctor.Engine("27.1.0", "/var/lib/docker", "ssh://trainer@training-host", local=False),
        image_present=lambda tag: True,
        free_bytes=free_bytes,
        is_root=lambda: True,
        replaybook="/venv/bin/replaybook",
    )
    found = {f.name: f for f in doctor.examine(host).findings}
    assert Path("/var/lib/docker") not in measured
    assert found["disk: docker root"].status == doctor.OK
    said = found["disk: docker root"].detail
    assert "remote engine at ssh://trainer@training-host: not measured from here" in said


def test_the_doctor_offers_no_local_fix_for_an_unreachable_remote_engine() -> None:
    def unreachable() -> doctor.Engine:
        raise RuntimeError("the Docker engine at ssh://trainer@training-host did not answer (timed out)")

    host = doctor.Host(
        which=lambda name: f"/usr/bin/{name}", run=lambda argv: (0, "2.26.1\n"), engine=unreachable,
        image_present=lambda tag: True, free_bytes=lambda path: 50 * 1024**3, is_root=lambda: True,
        replaybook="/venv/bin/replaybook", remote_engine=lambda: "ssh://trainer@training-host",
    )
    engine = next(f for f in doctor.examine(host).findings if f.name == "docker engine")
    assert engine.status == doctor.MISSING and engine.fix is None
    assert "a remote engine: start it, or reach it, there" in engine.detail


def test_the_copies_travel_as_one_archive_each_under_its_volume(tmp_path: Path) -> None:
    """hold_on_engine joins the copies' tars into one put_archive (each put mounts the helper)."""
    from libreplay.session import bindcopies

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("hi\n")
    (tmp_path / "app.conf").write_text("mode = serve\n")
    parts = [bindcopies.bind_archive(BindCopy(n, tmp_path / name), set(), under=f"r{n}")
             for n, name in enumerate(("site", "app.conf"))]
    joined = b"".join(bindcopies._without_end(part) for part in parts) + bindcopies._TAR_END
    members = archive_members(joined)
    assert sorted(members) == ["r0/site", "r0/site/index.html", "r1/app.conf"]  # no r0, r1 entries
    with tarfile.open(fileobj=io.BytesIO(joined)) as tar:
        conf = tar.extractfile("r1/app.conf")
        assert conf is not None and conf.read() == b"mode = serve\n"
