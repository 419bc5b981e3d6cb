"""The Docker engine, through the Docker SDK. Connection failures become readable errors.

The engine is the one the docker CLI — and so Compose and every script — talks to: the one
DOCKER_HOST names, else the endpoint of the CLI's current context (DOCKER_CONTEXT, or
``currentContext`` in its config.json: Docker Desktop and rootless Docker use one), else the
local socket. The SDK on its own reads DOCKER_HOST only, and would clean up on another engine
than the one the stack runs on. :func:`client` keeps one client per engine address, so a
process (a test) that points elsewhere gets a client for that engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from libreplay.core.errors import EnvironmentProblem, NotFound

if TYPE_CHECKING:
    import docker

# The labels replaybook reads and writes on the engine's objects: the only place they are named.
PROJECT_LABEL = "com.docker.compose.project"  # Compose's, on everything of a project
SERVICE_LABEL = "com.docker.compose.service"  # Compose's, on a service's containers
SESSION_LABEL = "org.replaybook.session"  # ours, on every container of a session
HOME_LABEL = "org.replaybook.home"  # ours, the REPLAYBOOK home (hash) a session belongs to
PROBE_LABEL = "org.replaybook.probe"  # ours, on the check probe's image
BIND_LABEL = "org.replaybook.bind"  # ours, on a session's bind-copy volumes (session/bindcopies.py)
BASE_IMAGE_LABEL = "org.replaybook.base"  # ours, on a base image built from the Debian archive
_LABEL_OF = {"project": PROJECT_LABEL, "service": SERVICE_LABEL, "session": SESSION_LABEL, "home": HOME_LABEL}


ENGINE_HINT = "is the Docker daemon running and may you use it? `replaybook doctor` checks"
DEFAULT_ENGINE = "unix:///var/run/docker.sock"
PING_TIMEOUT_SECONDS = 10
PUT_TIMEOUT_SECONDS = 60  # a break step's time (a file of a fault is small)
# Connections one pool keeps. The SDK's pools never block (urllib3's default, block=False): past
# the size a request opens a connection of its own, and one handed back to a full pool is closed
# with a "Connection pool is full, discarding connection" warning on stderr. replaybook serve
# watches every session on threads of its one client, each watcher holding long-lived streams
# (the probe's log, the shell's log, a log per other service, the engine's events, up to two
# `docker logs -f`): about 8 a session, 10 with a margin. Over TCP one pool per engine holds them
# all (the SDK's default there is requests' 10); over a unix socket or ssh the SDK keeps a pool
# per URL (25 at most, least recently used first out), and the size counts the requests to one
# URL at once (every watcher asking for /info or /_ping). Sized for serve's most sessions
# (--max-sessions, capped at training/day.py's MAX_SESSIONS, 50), plus the server's own
# requests: a pool opens a connection only when one is used, so a bigger size costs nothing idle.
# (Over ssh:// each connection is an `ssh` child process: a full server runs hundreds.)
STREAMS_PER_SESSION = 10
POOL_SIZE = 50 * STREAMS_PER_SESSION + 64
# What the SDK's docker.from_env reads: a client is kept per combination of them.
_ENGINE_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or _context_host() or DEFAULT_ENGINE


def engine_is_local(address: str | None = None) -> bool:
    """Whether the engine runs on this machine: a unix socket or a named pipe, or TCP to the
    loopback. ``ssh://`` and TCP to another host are remote: ports it publishes are on that
    host, and its data root is not this machine's disk."""
    from urllib.parse import urlsplit

    parts = urlsplit(address or engine_address())
    if parts.scheme in ("unix", "npipe", ""):
        return True
    return parts.scheme in ("tcp", "http", "https") and parts.hostname in ("localhost", "127.0.0.1", "::1")


def _context_host() -> str | None:
    """The docker endpoint of the CLI's current context; None for the default context."""
    endpoint = _context_endpoint()
    return endpoint[0] if endpoint else None


def _context_endpoint() -> tuple[str, str, bool] | None:
    """The CLI's current context's docker endpoint: its host, the directory of its TLS material
    (``docker context create --docker host=…,ca=…,cert=…,key=…`` keeps copies there; empty when
    it has none) and whether to skip verifying the server; None for the default context."""
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    name = os.environ.get("DOCKER_CONTEXT") or _current_context(config / "config.json")
    if not name or name == "default":
        return None
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest / "meta.json"
    try:
        docker = json.loads(meta.read_text(encoding="utf-8"))["Endpoints"]["docker"]
        host, skip_verify = str(docker["Host"]), bool(docker.get("SkipTLSVerify", False))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise EnvironmentProblem(
            f"the docker context {name!r} cannot be read ({meta})",
            hint="`docker context ls` shows the contexts; DOCKER_HOST or DOCKER_CONTEXT choose one",
        ) from None
    tls = config / "contexts" / "tls" / digest / "docker"
    return host, str(tls) if tls.is_dir() else "", skip_verify


def _current_context(config_file: Path) -> str | None:
    try:
        current = json.loads(config_file.read_text(encoding="utf-8")).get("currentContext")
    except (OSError, ValueError, AttributeError):
        return None  # no CLI configuration: the default context
    return current if isinstance(current, str) else None


@contextmanager
def engine_errors() -> Iterator[None]:
    """Map the SDK's connection and API failures to EnvironmentProblem with a hint."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if isinstance(exc, docker.errors.NotFound):
            raise
        raise engine_problem(exc) from exc


def engine_problem(exc: BaseException) -> EnvironmentProblem:
    """One line saying which engine failed and how, from whatever the SDK raised."""
    import docker.errors

    if isinstance(exc, docker.errors.APIError) and exc.response is not None:
        said = str(exc.explanation or exc).strip().splitlines()[0]
        return EnvironmentProblem(f"the Docker engine at {engine_address()} refused: {said}")
    return EnvironmentProblem(
        f"the Docker engine at {engine_address()} did not answer ({_reason(exc)})", hint=ENGINE_HINT
    )


def _reason(exc: BaseException) -> str:
    """The operating system's word for it (connection refused, no such file…), else the text."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        if isinstance(current, TimeoutError) or "timed out" in str(current).lower():
            return "timed out"
        pending += [a for a in current.args if isinstance(a, BaseException)]
        pending += [c for c in (current.__cause__, current.__context__) if c is not None]
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def client() -> docker.DockerClient:
    """The client of the engine the CLI would use now (one per address, kept for the process)."""
    context = None if os.environ.get("DOCKER_HOST") else _context_endpoint()
    host, tls, skip_verify = context or ("", "", False)
    return _client_for((*(os.environ.get(name, "") for name in _ENGINE_ENV), tls, str(skip_verify), host))


_clients: dict[tuple[str, ...], docker.DockerClient] = {}
# replay-up meets the engine on a thread while its main thread goes on: one client, not two.
_clients_lock = threading.Lock()


def _client_for(engine: tuple[str, ...]) -> docker.DockerClient:
    with _clients_lock:
        made = _clients.get(engine)
        if made is None:
            made = _clients[engine] = _new_client(engine[-1], engine[-3], engine[-2] == "True")
        return made


def _new_client(context_host: str, tls_dir: str = "", skip_verify: bool = False) -> docker.DockerClient:
    import docker

    # ssh:// through the ssh program, as the docker CLI does (the user's ssh configuration and
    # agent), not paramiko, which the SDK would need otherwise.
    ssh = (context_host or os.environ.get("DOCKER_HOST", "")).startswith("ssh://")
    if ssh:
        _need_paramiko()
    with engine_errors():
        if context_host:
            made = docker.DockerClient(base_url=context_host, timeout=120, use_ssh_client=ssh,
                                       tls=_context_tls(tls_dir, skip_verify), max_pool_size=POOL_SIZE)
        else:
            made = docker.from_env(timeout=120, use_ssh_client=ssh, max_pool_size=POOL_SIZE)
    _tcp_pools_sized(made.api)
    return made


def _need_paramiko() -> None:
    """The SDK's ssh transport imports paramiko even for ``use_ssh_client`` (docker 7.1): it is
    the optional ``ssh`` extra, not a dependency (installed, every process importing docker
    would load it)."""
    import importlib.util

    if importlib.util.find_spec("paramiko") is None:
        raise EnvironmentProblem(
            "an ssh:// Docker engine needs the paramiko package, which is not installed",
            hint="pip install 'replaybook[ssh]' (or: pip install paramiko) into replaybook's environment",
        )


def _tcp_pools_sized(api: Any) -> None:
    """The SDK passes ``max_pool_size`` to its unix, ssh and named-pipe adapters only: over TCP
    (with TLS or not) requests' own adapters keep 10. Ours hold POOL_SIZE (TLS settings are the
    session's, ``verify`` and ``cert``, and stay as the SDK set them)."""
    import requests.adapters

    if str(api.base_url).startswith(("http://", "https://")):
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=POOL_SIZE)
        api.mount("http://", adapter)
        api.mount("https://", adapter)


def _context_tls(directory: str, skip_verify: bool) -> Any:
    """A context's TLS material as the SDK takes it (the files `docker context create` writes)."""
    if not directory:
        return False
    import docker.tls

    ca, cert, key = (Path(directory) / name for name in ("ca.pem", "cert.pem", "key.pem"))
    if not (cert.is_file() and key.is_file()):
        return False
    return docker.tls.TLSConfig(client_cert=(str(cert), str(key)), ca_cert=str(ca) if ca.is_file() else None,
                                verify=ca.is_file() and not skip_verify)


def ensure_engine() -> None:
    """Raise EnvironmentProblem unless the engine answers now (a quick ping, no retries)."""
    with engine_errors():
        api = client().api
        api.get(f"{api.base_url}/_ping", timeout=PING_TIMEOUT_SECONDS).raise_for_status()


def engine_major_version() -> int | None:
    """The engine's major version (``20`` for 20.10.24), or None when it does not say."""
    with engine_errors():
        version = str(client().version().get("Version", ""))
    major = version.split(".", 1)[0]
    return int(major) if major.isdigit() else None


def engine_answers() -> bool:
    try:
        ensure_engine()
    except EnvironmentProblem:
        return False
    return True


def put_file(container_id: str, directory: str, archive: bytes) -> str | None:
    """Extract the tar ``archive`` into ``directory`` of a container; None, or the engine's reason
    it could not. Unlike the SDK's ``put_archive``, the engine is told never to replace a
    directory with a file (``noOverwriteDirNonDir``, which ``docker cp`` sets too): left out, a
    file entry named like an existing directory replaces that directory, with all it holds."""
    api = client().api
    url = f"{api.base_url}/v{api.api_version}/containers/{container_id}/archive"
    with engine_errors():
        answer = api.put(url, params={"path": directory, "noOverwriteDirNonDir": "true"}, data=archive,
                         timeout=PUT_TIMEOUT_SECONDS)
    if answer.ok:
        return None
    try:
        body = answer.json()
    except ValueError:
        body = None
    said = body.get("message") if isinstance(body, dict) else None  # an engine's own error shape
    return str(said or answer.text or f"HTTP {answer.status_code}").strip()


# -- objects by label ------------------------------------------------------------------------


def label_filter(*, project: str | None = None, service: str | None = None, session: str | None = None,
                 home: str | None = None) -> dict[str, Any]:
    """The engine's filter for objects carrying every label given (by what it means)."""
    given = {"project": project, "service": service, "session": session, "home": home}
    return {"label": [f"{_LABEL_OF[name]}={value}" for name, value in given.items() if value is not None]}


def labelled(kind: Literal["containers", "networks", "volumes"], *, running_only: bool = False,
             **labels: str) -> list[Any]:
    """The ``kind`` objects carrying every label given (``project=…``, ``service=…``, ``home=…``);
    containers stopped or running unless ``running_only``."""
    collection = getattr(client(), kind)
    extra = {"all": not running_only} if kind == "containers" else {}
    with engine_errors():
        return list(collection.list(filters=label_filter(**labels), **extra))


def remove_project_objects(project: str) -> None:
    """Force-remove whatever `compose down` left of a project (the last line of defence)."""
    import docker.errors

    with engine_errors():
        for container in labelled("containers", project=project):
            with suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        for network in labelled("networks", project=project):
            with suppress(docker.errors.NotFound):
                network.remove()
        for volume in labelled("volumes", project=project):
            with suppress(docker.errors.NotFound):
                volume.remove(force=True)


def projects_of_home(home_id: str) -> set[str]:
    """Compose projects whose containers, networks or volumes carry this REPLAYBOOK home's label
    (a network whose containers never came up is found too)."""
    containers = labelled("containers", home=home_id)
    others = [*labelled("networks", home=home_id), *labelled("volumes", home=home_id)]
    projects = {c.labels.get(PROJECT_LABEL, "") for c in containers}
    projects |= {(o.attrs.get("Labels") or {}).get(PROJECT_LABEL, "") for o in others}
    return projects - {""}


# -- a terminal in a container -----------------------------------------------------------------

EXEC_READ_BYTES = 64 * 1024
SSH_CHILD_WAIT_SECONDS = 5.0  # a killed ssh child is gone at once; a wait no longer than this


class ExecTerminal:
    """A command running on a terminal in a container through the engine's exec API, its
    stream taken over from the HTTP connection that started it (``Upgrade: tcp``): what it
    prints is read, what is typed written, its size set. No docker CLI and no host path, so it
    works with a remote engine too. Over a unix socket or TCP (TLS or not) it runs no process;
    over ``ssh://`` the SDK's transport runs an ``ssh`` child per connection (``ssh HOST docker
    system dial-stdio``, as the docker CLI does), so each terminal has one, ended by :meth:`close`.

    The SDK's ``exec_start(socket=True)`` is not used: it hands back the bare socket, and what
    the engine sent along with the upgrade's headers (the start of the output, when the command
    is quick) stays behind in the response's buffered reader and is lost. Reading through that
    reader loses nothing; writing goes to its connection's socket (a unix socket, a TLS socket,
    or the SDK's ``SSHSocket``, which writes to the ssh child's stdin). Both are private parts
    of the SDK and urllib3 (pyproject.toml pins the versions that have them): when they are
    missing, the terminal is refused at once (EnvironmentProblem) rather than seen as a shell
    that ended."""

    def __init__(self, exec_id: str, response: Any) -> None:
        self.exec_id = exec_id
        self._response = response  # kept: a TLS connection closes with its response
        self._reader, self._socket = _taken_over(response)
        self._socket.settimeout(None)  # the client's timeout is for requests: a shell may sit idle for hours
        # Writers one at a time (a piece typed is never interleaved with another). close() never
        # takes this lock: a writer may be blocked for good (a shell that reads nothing, the ssh
        # child's stdin pipe full); close() wakes it up instead.
        self._write_lock = threading.Lock()
        # Guards what follows: whether it is closed, how many writes are under way, whether the
        # connection was released. The connection is released by whichever finishes last, close()
        # or the write it woke up: a write never lands on a descriptor number reused after a close.
        self._state_lock = threading.Lock()
        self._closed = False
        self._writing = 0
        self._released = False

    def read(self) -> bytes:
        """What the command printed next (waits for it); b"" once it ended or was closed."""
        try:
            return bytes(self._reader.read1(EXEC_READ_BYTES))
        except (OSError, ValueError):  # closed under us (ValueError: I/O on a closed file)
            return b""
        except AttributeError:  # http.client drops its fp on close: only once we closed it
            if self._closed:
                return b""
            raise

    def write(self, data: bytes) -> None:
        """Type ``data`` (waits while the command does not read); OSError once it is gone."""
        with self._write_lock:
            with self._state_lock:
                if self._closed:
                    raise OSError("the exec's terminal is closed")
                self._writing += 1
            try:
                self._socket.sendall(data)
            except OSError:
                raise
            except Exception as failed:  # the ssh transport's own errors (its program gone)
                raise OSError(f"the exec's terminal is gone: {failed}") from failed
            finally:
                with self._state_lock:
                    self._writing -= 1
                    last = self._closed and not self._writing
                if last:
                    self._release()

    def resize(self, rows: int, cols: int) -> None:
        with suppress(Exception):  # the exec ended meanwhile: nothing to resize
            client().api.exec_resize(self.exec_id, height=rows, width=cols)

    def exit_code(self, *, wait: float = 2.0) -> int | None:
        """The command's exit status once the engine has seen it end (waiting ``wait`` seconds
        at most: its output can end before); None when unknown."""
        import time

        deadline = time.monotonic() + wait
        while True:
            try:
                with engine_errors():
                    found = client().api.exec_inspect(self.exec_id)
            except Exception:  # noqa: BLE001 - gone with its container: unknown
                return None
            code = found.get("ExitCode")
            if not found.get("Running") and isinstance(code, int):
                return code
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def close(self) -> None:
        """Release the connection; a blocked read() returns b"", a blocked write() fails. Never
        waits for a write: it wakes it up, and the write releases the connection as it leaves."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            writing = self._writing > 0
        _wake(self._socket)
        if not writing:
            self._release()

    def _release(self) -> None:
        with self._state_lock:
            if self._released:
                return
            self._released = True
        with suppress(Exception):  # the SDK's SSHSocket raises its own on a dead child
            self._socket.close()
        with suppress(Exception):
            self._response.close()
        _close_ssh_pipes(self._socket)


def _taken_over(response: Any) -> tuple[Any, Any]:
    """The buffered reader that read the upgrade's headers and the connection's socket of the
    SDK's streamed ``response`` (private attributes of urllib3 and http.client)."""
    try:
        reader, sock = response.raw._fp.fp, response.raw._connection.sock
    except AttributeError:
        reader = sock = None
    if reader is None or sock is None or not hasattr(reader, "read1") or not hasattr(sock, "sendall"):
        raise EnvironmentProblem(
            "this Docker SDK or urllib3 does not keep the exec's connection where replaybook takes it over "
            "(response.raw._fp.fp, response.raw._connection.sock): no browser terminal",
            hint="install the versions pyproject.toml pins (docker>=7.1,<8, urllib3>=1.26,<3)",
        )
    return reader, sock


def _wake(sock: Any) -> None:
    """Wake up a read and a write blocked on the connection, whatever its transport, without
    waiting for either: a socket is shut down; the SDK's ssh socket (``SSHSocket``: a write is a
    blocking write to the stdin pipe of its ``ssh`` child, ``proc``) has its child killed, which
    fails the write (EPIPE) and ends the read (EOF)."""
    proc = getattr(sock, "proc", None)
    if isinstance(proc, subprocess.Popen):
        with suppress(OSError):
            proc.kill()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(SSH_CHILD_WAIT_SECONDS)
        return
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _close_ssh_pipes(sock: Any) -> None:
    """The SDK's SSHSocket closes neither pipe of its child: closed here, once it is dead."""
    proc = getattr(sock, "proc", None)
    if isinstance(proc, subprocess.Popen):
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with suppress(Exception):
                    pipe.close()


def open_exec(container_id: str, argv: list[str], *, env: dict[str, str], rows: int, cols: int,
              user: str = "") -> ExecTerminal:
    """Run ``argv`` in the container on a terminal of ``rows`` x ``cols`` with stdin open, as
    ``docker exec -it [-u USER] -e NAME=VALUE… CONTAINER ARGV`` does (the engine sets TERM=xterm
    for a terminal; without ``user``, the container's own). The start's connection is closed
    on every failure (a shell that ServiceShell retries while its container flaps would
    otherwise hold one each time)."""
    api = client().api
    with engine_errors(), _gone_as(container_id):
        made = api.exec_create(container_id, argv, stdin=True, tty=True, environment=env, user=user)
        exec_id = str(made["Id"])
        # ConsoleSize: the size from the start (API 1.42+; older engines ignore it, and the
        # resize below sets it).
        response = api._post_json(  # see ExecTerminal: the start's own response
            api._url("/exec/{0}/start", exec_id), headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            data={"Tty": True, "Detach": False, "ConsoleSize": [rows, cols]}, stream=True,
        )
        try:
            api._raise_for_status(response)
            terminal = ExecTerminal(exec_id, response)
        except BaseException:
            with suppress(Exception):
                response.close()
            raise
    terminal.resize(rows, cols)  # never raises
    return terminal


@contextmanager
def _gone_as(container_id: str) -> Iterator[None]:
    """The SDK's NotFound (the container was removed meanwhile) as our own."""
    import docker.errors

    try:
        yield
    except docker.errors.NotFound:
        raise NotFound(f"container {container_id[:12]} is gone") from None


# -- long-lived streams ----------------------------------------------------------------------


class Streams:
    """The long-lived streams (a container's log followed, the engine's events) that one owner's
    threads read, ended together by :meth:`close`: a read blocked on a stream returns as soon as
    it is closed from another thread. Without it a reader waits for the engine to end its stream,
    and an event stream never ends by itself: in a long-lived process (replaybook serve) each
    watcher that ended would leave its threads and their connections behind. A stream opened
    once they are closed is closed at once (a follower that was starting as its owner ended)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Any] = []
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``, less once they are closed (a follower waiting to follow again)."""
        self._closed.wait(max(0.0, seconds))

    @contextmanager
    def opened(self, stream: Any) -> Iterator[Any]:
        """``stream`` (the SDK's, with ``close``) while the block reads it."""
        with self._lock:
            late = self._closed.is_set()
            if not late:
                self._open.append(stream)
        if late:
            close_stream(stream)
        try:
            yield stream
        finally:
            with self._lock:
                self._open = [kept for kept in self._open if kept is not stream]

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            streams, self._open = self._open, []
        for stream in streams:
            close_stream(stream)


def close_stream(stream: Any) -> None:
    """End a streaming answer of the SDK from any thread: a read blocked on it returns."""
    try:
        stream.close()  # the SDK's CancellableStream shuts its socket down
    except Exception:  # noqa: BLE001 - ssh:// through the ssh program: no socket for the SDK to find
        # There the stream reads the ssh child's stdout, whose ``channel`` is the SDK's SSHSocket:
        # closing it ends the child, and with it the stream.
        with suppress(Exception):
            stream._response.raw._fp.fp.channel.close()
