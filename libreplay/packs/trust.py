"""Trust in a pack, tied to the commit the user was shown.

A pack's scripts run on this machine as the user (docs/scenario-format.md, "How scripts run").
So before a scenario of an added pack first runs, the user is shown what the pack will run here
(:func:`summarize`) and asked; the answer is recorded for the pack's source *at that commit*
(``<data>/trusted-packs.toml``), and an update that moves the commit asks again.

Always trusted, never asked about:

- the official pack: it ships with replaybook, whose own code the user already runs;
- a scenario named by a directory outside every installed pack (pack ``local``): the user's own
  files, usually an author's work in progress (``replaybook test .``). Naming a directory of
  one's own is the same act as running ``bash ./break.sh`` in it, and work in progress has no
  commit an answer could be tied to (it changes with every edit), so asking would only teach
  authors to type ``--yes`` without reading.

A directory inside an installed pack's clone is that pack, however it is named.
"""

from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from libreplay.core import paths
from libreplay.core.errors import PackUntrusted, ReplayError
from libreplay.core.store import read_toml, update_toml
from libreplay.core.table import table_lines
from libreplay.core.text import inert
from libreplay.packs import catalog as packs
from libreplay.packs.catalog import LOCAL, Pack
from libreplay.scenario.model import Scenario

SHORT_COMMIT = 12
SHOWN_CHARS = 160  # a value wider than this is cut: the summary must stay readable
READ_CHUNK = 1 << 16


# -- the record -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustRecord:
    """One answer: the pack from ``source`` was trusted at ``commit``."""

    source: str
    commit: str
    trusted_at: datetime


def pack_commit(pack: Pack) -> str:
    """The commit checked out in an added pack's clone now: the code that would run."""
    return packs.head_commit(pack)


def short(commit: str) -> str:
    return commit[:SHORT_COMMIT]


def is_trusted(pack: Pack, *, commit: str | None = None) -> bool:
    """Whether ``pack`` is trusted at ``commit`` (default: the commit checked out now)."""
    if pack.official:
        return True
    at = commit if commit is not None else pack_commit(pack)
    return any(r.source == pack.source and r.commit == at for r in trusted_records())


def trust(pack: Pack, *, commit: str | None = None) -> TrustRecord:
    """Record that ``pack`` is trusted at ``commit``: the one the user was shown (default: now).

    Passing the commit that was shown matters: were the clone updated between the question and
    the answer, the answer covers what was shown and the new commit is asked about again.
    """
    record = TrustRecord(pack.source, commit or pack_commit(pack), datetime.now(UTC))

    def add(data: dict[str, Any]) -> None:
        kept = [e for e in _entries(data) if (e.get("source"), e.get("commit")) != (record.source,
                                                                                      record.commit)]
        kept.append({"source": record.source, "commit": record.commit, "trusted_at": record.trusted_at})
        data["trusted"] = kept

    update_toml(paths.trust_path(), add)
    return record


def forget(pack: Pack) -> None:
    """Drop every answer about ``pack``'s source (the pack was removed: a new add asks again)."""
    if not paths.trust_path().exists():
        return

    def drop(data: dict[str, Any]) -> None:
        data["trusted"] = [e for e in _entries(data) if e.get("source") != pack.source]

    update_toml(paths.trust_path(), drop)


def trusted_records() -> list[TrustRecord]:
    """Every recorded answer; an entry of the wrong shape counts as no answer."""
    path = paths.trust_path()
    if not path.exists():
        return []
    records = []
    for entry in _entries(read_toml(path)):
        source, commit, at = entry.get("source"), entry.get("commit"), entry.get("trusted_at")
        if isinstance(source, str) and isinstance(commit, str) and isinstance(at, datetime):
            records.append(TrustRecord(source, commit, at))
    return records


def _entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    entries = data.get("trusted")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


# -- the gate before a scenario runs -------------------------------------------------------------


def untrusted_pack(scenario: Scenario) -> Pack | None:
    """The added pack that must be trusted before ``scenario`` runs, or None when nothing must."""
    for pack in _packs_of(scenario):
        if not is_trusted(pack):
            return pack
    return None


def commit_of(scenario: Scenario) -> str | None:
    """The commit checked out now of the added pack whose code ``scenario`` is; None for the
    official pack and the user's own directories, which trust does not cover."""
    found = _packs_of(scenario)
    return pack_commit(found[0]) if found else None


def require_trust(scenario: Scenario) -> None:
    """Raise PackUntrusted when ``scenario`` belongs to a pack not trusted at its commit."""
    pack = untrusted_pack(scenario)
    if pack is not None:
        raise not_trusted(pack)


def not_trusted(pack: Pack, *, refused: bool = False) -> PackUntrusted:
    """The error that stops a run of ``pack``: it names the pack and commit and what trusts it."""
    commit = pack_commit(pack)
    name = shown(pack.name)
    command = f"replay-trust {shlex.quote(name)}"
    why = "the answer was no" if refused else "its scripts would run on this machine as you"
    return PackUntrusted(
        f"pack {name} is not trusted at commit {short(commit)} ({why}), so nothing was run; "
        f"to trust it: {command} --yes (or give this command --yes)",
        pack=pack.name,
        commit=commit,
        hint=f"{command} lists every script and service it runs, then asks",
    )


def _packs_of(scenario: Scenario) -> list[Pack]:
    """The added packs whose code ``scenario`` is: by the name it was loaded under, and by where its
    directory lies (a path into a pack's clone is that pack's code, whatever it was called)."""
    directory = scenario.directory.resolve()
    return [
        pack for pack in packs.installed_packs()
        if not pack.official and (
            (scenario.pack != LOCAL and pack.name == scenario.pack)
            or directory.is_relative_to(pack.directory.resolve())
        )
    ]


# -- what a pack runs on this machine --------------------------------------------------------------


@dataclass(frozen=True)
class HostScript:
    """A script a scenario names, which runs on this machine. Text fields are inert."""

    path: str  # relative to the scenario directory
    uses: str  # "break (default), solve (default)"
    size_bytes: int
    lines: int


@dataclass(frozen=True)
class ServiceRun:
    """A service of the compose file and what its container runs. Text fields are inert."""

    name: str
    runs: str  # "image debian:bookworm-slim", "built from ./web"
    ports: tuple[str, ...] = ()  # what it publishes on this machine: "127.0.0.1:18080 -> 3000/tcp"


@dataclass(frozen=True)
class ScenarioRuns:
    ref: str
    directory: str
    scripts: tuple[HostScript, ...]
    services: tuple[ServiceRun, ...]


@dataclass(frozen=True)
class TrustSummary:
    """What a pack at one commit will run: every text in it is already inert for a terminal."""

    pack: str
    source: str
    commit: str
    directory: str
    scenarios: tuple[ScenarioRuns, ...]
    invalid: int  # scenarios that fail validation: they cannot run, so they are not listed

    @property
    def short_commit(self) -> str:
        return short(self.commit)

    def lines(self) -> list[str]:
        lines = [f"Pack {self.pack} at commit {self.short_commit} (from {self.source}) will run:"]
        for scenario in self.scenarios:
            lines.extend(_scenario_lines(scenario))
        if self.invalid:
            lines.append(f"  ({self.invalid} invalid scenario(s) not listed: they cannot run)")
        lines.append("Scripts run on this machine as you, with your files, network and credentials; "
                     "services run in containers.")
        lines.append(f"Read the scripts in {self.directory} before you trust the pack.")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack, "source": self.source, "commit": self.commit, "path": self.directory,
            "invalid": self.invalid,
            "scenarios": [
                {"ref": s.ref, "path": s.directory,
                 "scripts": [{"path": h.path, "uses": h.uses, "bytes": h.size_bytes, "lines": h.lines}
                             for h in s.scripts],
                 "services": [{"name": v.name, "runs": v.runs, "ports": list(v.ports)} for v in s.services]}
                for s in self.scenarios
            ],
        }


def summarize(pack: Pack) -> TrustSummary:
    """Every host script and service of ``pack``'s valid scenarios, at the commit checked out."""
    scan = packs.scan_pack(pack)
    return TrustSummary(
        pack=shown(pack.name),
        source=shown(pack.source),
        commit=pack_commit(pack),
        directory=shown(str(pack.directory)),
        scenarios=tuple(_scenario_runs(s) for s in scan.scenarios),
        invalid=len(scan.invalid),
    )


def shown(text: str) -> str:
    """Pack text fit for one line of a terminal: inert, and cut when very long."""
    clean = inert(text, keep_newlines=False)
    return clean if len(clean) <= SHOWN_CHARS else clean[:SHOWN_CHARS] + "…"


def _scenario_runs(scenario: Scenario) -> ScenarioRuns:
    return ScenarioRuns(
        ref=shown(scenario.ref),
        directory=shown(str(scenario.directory)),
        scripts=_host_scripts(scenario),
        services=_services(scenario),
    )


def _host_scripts(scenario: Scenario) -> tuple[HostScript, ...]:
    """Every script of the scenario that can run here: breaks, the check, the guards, the faults'
    fixes."""
    uses: dict[str, list[str]] = {}
    if scenario.success_condition == "exit_zero":
        uses.setdefault("check.sh", []).append("check")
    for guard in scenario.guards:
        if guard.script is not None:
            uses.setdefault(guard.script, []).append(f"guard ({guard.name})")
    for fault in scenario.faults:
        if fault.script is not None:
            uses.setdefault(fault.script, []).append(f"break ({fault.name})")
        if scenario.has_solve(fault):
            uses.setdefault(fault.solve, []).append(f"solve ({fault.name})")
    scripts = []
    for name, roles in uses.items():
        size, lines = _measure(scenario.directory / name)
        scripts.append(HostScript(shown(name), shown(", ".join(roles)), size, lines))
    return tuple(scripts)


def _measure(path: Path) -> tuple[int, int]:
    """Size in bytes and number of lines, read in chunks (a pack's file may be any size)."""
    size = lines = 0
    last = b"\n"
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                size += len(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return size, lines
    return size, lines + (last != b"\n")


def _services(scenario: Scenario) -> tuple[ServiceRun, ...]:
    specs = _resolved_services(scenario)
    return tuple(
        ServiceRun(shown(name), _what_runs(spec, scenario.directory), _ports(name, spec))
        for name, spec in ((name, specs.get(name)) for name in scenario.services)
    )


def _ports(name: str, spec: Any) -> tuple[str, ...]:
    """The ports a service publishes on this machine, as a session binds them (loopback only)."""
    from libreplay.scenario.sandbox import publishable, service_ports

    refused = " (refused: never bound)"
    return tuple(
        f"{port.address} -> {port.target}" + ("" if publishable(port.published) else refused)
        for port in service_ports(name, spec)
    )


def _resolved_services(scenario: Scenario) -> dict[str, Any]:
    """The services as Compose resolves them (interpolation, merge keys: what would run), for
    display; a scenario Compose cannot resolve shows as unreadable, and will not run either."""
    from libreplay.scenario.sandbox import resolve

    try:
        return resolve(scenario, "replaybook-trust").services
    except ReplayError:
        return {}


def _what_runs(spec: Any, directory: Path) -> str:
    if not isinstance(spec, dict):
        return "(unreadable here)"
    parts = []
    build = spec.get("build")
    if build is not None:
        context = build.get("context", ".") if isinstance(build, dict) else build
        with contextlib.suppress(TypeError, ValueError):  # shown relative to the scenario, as written
            context = f"./{Path(context).relative_to(directory)}".removesuffix("/.")
        dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
        parts.append(f"built from {_text(context)}"
                     + (f" ({_text(dockerfile)})" if dockerfile is not None else ""))
    if "image" in spec:
        parts.append(f"image {_text(spec['image'])}")
    return shown(", ".join(parts)) if parts else "(no image or build)"


def _text(value: Any) -> str:
    """A compose value to show: a string or a number; anything else is not expanded."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return shown(str(value))
        except ValueError:  # an integer too long to print
            return "(a number too long to show)"
    return "(not a string)"


KIND_WIDTH = len("service")  # "script" lines up with it even in a scenario without services


def _publishing(service: ServiceRun) -> str:
    return f", publishes {', '.join(service.ports)}" if service.ports else ""


def _scenario_lines(scenario: ScenarioRuns) -> list[str]:
    lines = [f"  {scenario.ref}  ({scenario.directory})"]
    if not scenario.scripts:  # outside the table: its width is not the names'
        lines.append("    script   (none: the break is steps inside containers)")
    rows = [("script", script.path, f"{script.lines} lines, {script.size_bytes} bytes: {script.uses}")
            for script in scenario.scripts]
    rows += [("service", service.name, service.runs + _publishing(service)) for service in scenario.services]
    lines += [f"    {line}" for line in table_lines(rows, min_widths=(KIND_WIDTH,))]
    return lines
