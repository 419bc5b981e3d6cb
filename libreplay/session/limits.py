"""Per-container resource limits: the training host's ceiling on every container of a session.

Many trainees share one host (``replaybook serve``): one trainee's fork bomb, memory hog or CPU
burner must not starve the others. The engine enforces the limits on each container's cgroup,
so nothing the trainee does as root inside the container lifts them.

The operator sets the ceiling (``replay-up --cpus/--memory/--pids``, else the environment's
``REPLAYBOOK_SESSION_CPUS``/``_MEMORY``/``_PIDS``, else :data:`DEFAULT_CEILING`); it applies to
each service container of a session. A pack's own limits (``cpus``, ``cpu_quota``,
``mem_limit``, ``pids_limit``, ``deploy.resources.limits``) are kept when they are lower — 005's
256 MB box is the scenario — and lowered to the ceiling when higher: a pack cannot lift it.
Memory and memory+swap are always equal, so swap cannot dodge the memory limit. replaybook's
own probe sidecar gets :data:`PROBE_LIMITS`. ``REPLAYBOOK_SESSION_LIMITS=off`` sets none (for
measuring what they are for: benchmarks/noisy_neighbour.py).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from libreplay.core.errors import EnvironmentProblem, InvalidInput
from libreplay.scenario.model import Resources, Scenario, size_bytes

CPUS_VARIABLE = "REPLAYBOOK_SESSION_CPUS"
MEMORY_VARIABLE = "REPLAYBOOK_SESSION_MEMORY"
PIDS_VARIABLE = "REPLAYBOOK_SESSION_PIDS"
SWITCH_VARIABLE = "REPLAYBOOK_SESSION_LIMITS"  # "off": no limits at all
MIB = 1024 * 1024
GIB = 1024 * MIB
MIN_MEMORY = 16 * MIB  # the engine refuses less than 6 MB; a shell needs more than that anyway
MIN_PIDS = 16  # the container's init, a shell and the commands a check runs
MIN_CPUS = 0.01  # the engine's resolution
CPU_PERIOD_DEFAULT = 100_000  # microseconds: the kernel's and the engine's default CFS period
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """One container's ceiling: CPUs (fractional), memory in bytes (swap included), processes
    and threads."""

    cpus: float
    memory: int
    pids: int

    def describe(self) -> str:
        return f"{self.cpus:g} CPU, {show_size(self.memory)} memory, {self.pids} processes"


# Each container of a session. Room for every official scenario (postgres, sidekiq, redis; 005
# brings its own 256 MB), and on a 2-core host one session's container still leaves a core.
DEFAULT_CEILING = Limits(cpus=1.0, memory=1 * GIB, pids=512)
# replaybook's probe: curl in a loop, and one curl per check or guard.
PROBE_LIMITS = Limits(cpus=0.25, memory=64 * MIB, pids=64)


def session_ceiling(
    cpus: str | None = None, memory: str | None = None, pids: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Limits | None:
    """The ceiling for a new session: each value from its option when given, else from its
    variable, else the default. None when ``REPLAYBOOK_SESSION_LIMITS=off``. Raises
    InvalidInput naming the option or variable of a value that is not one."""
    env = os.environ if environ is None else environ
    switch = env.get(SWITCH_VARIABLE, "on").strip().lower()
    if switch not in ("on", "off"):
        raise InvalidInput(f"{SWITCH_VARIABLE}: must be on or off, got {switch!r}")
    if switch == "off" and cpus is None and memory is None and pids is None:
        return None

    def chosen(option: str | None, flag: str, variable: str) -> tuple[str, str] | None:
        if option is not None:
            return option, flag
        if env.get(variable, "").strip():
            return env[variable], variable
        return None

    picked_cpus = chosen(cpus, "--cpus", CPUS_VARIABLE)
    picked_memory = chosen(memory, "--memory", MEMORY_VARIABLE)
    picked_pids = chosen(pids, "--pids", PIDS_VARIABLE)
    return Limits(
        cpus=parse_cpus(*picked_cpus) if picked_cpus else DEFAULT_CEILING.cpus,
        memory=parse_memory(*picked_memory) if picked_memory else DEFAULT_CEILING.memory,
        pids=parse_pids(*picked_pids) if picked_pids else DEFAULT_CEILING.pids,
    )


def parse_cpus(text: str, where: str) -> float:
    """``1``, ``0.5``, ``2.25``: CPUs a container may use (at least 0.01)."""
    try:
        value = float(text.strip())
    except ValueError:
        raise InvalidInput(f"{where}: {text!r} is not a number of CPUs (e.g. 1 or 0.5)") from None
    if not math.isfinite(value) or value < MIN_CPUS:
        raise InvalidInput(f"{where}: {text!r}: must be at least {MIN_CPUS} CPU")
    return round(value, 2)


def parse_memory(text: str, where: str) -> int:
    """``512m``, ``1g``, ``1.5GiB``, ``268435456`` (bytes): at least 16 MiB."""
    match = SIZE.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"{where}: {text!r} is not a size (e.g. 512m or 1g)")
    value = size_bytes(match.group(1), match.group(2))
    if value < MIN_MEMORY:
        raise InvalidInput(f"{where}: {text!r}: must be at least {show_size(MIN_MEMORY)}")
    return value


def parse_pids(text: str, where: str) -> int:
    """A whole number of processes and threads, at least 16."""
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidInput(f"{where}: {text!r} is not a whole number of processes") from None
    if value < MIN_PIDS:
        raise InvalidInput(f"{where}: {text!r}: must be at least {MIN_PIDS} processes")
    return value


def show_size(size: int) -> str:
    for unit, factor in (("g", GIB), ("m", MIB)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def require_room(scenario: Scenario, ceiling: Limits | None) -> None:
    """Raise EnvironmentProblem when ``ceiling`` is below what the scenario says each of its
    containers needs (meta.json ``resources``), naming what to raise."""
    needs: Resources = scenario.resources
    if ceiling is None:
        return
    short = []
    if needs.cpus is not None and needs.cpus > ceiling.cpus:
        short.append(f"{needs.cpus:g} CPU (the host gives {ceiling.cpus:g}: --cpus or {CPUS_VARIABLE})")
    if needs.memory is not None and needs.memory > ceiling.memory:
        short.append(f"{show_size(needs.memory)} memory (the host gives {show_size(ceiling.memory)}: "
                     f"--memory or {MEMORY_VARIABLE})")
    if needs.pids is not None and needs.pids > ceiling.pids:
        short.append(f"{needs.pids} processes (the host gives {ceiling.pids}: --pids or {PIDS_VARIABLE})")
    if short:
        raise EnvironmentProblem(
            # Not named: replay-up is blind (docs/terminal.md); the pack's author knows its needs.
            "this scenario's meta.json resources: each container needs " + "; ".join(short),
            hint="raise this host's per-container ceiling, or play another scenario",
        )


def fit_to_engine(ceiling: Limits | None, engine_cpus: int | None) -> Limits | None:
    """The ceiling with no more CPUs than the engine has (it refuses a container asking more);
    ``engine_cpus`` None: unknown, the ceiling as it is."""
    if ceiling is None or not engine_cpus or ceiling.cpus <= engine_cpus:
        return ceiling
    return replace(ceiling, cpus=float(engine_cpus))


def engine_cpus() -> int | None:
    """How many CPUs the engine's machine has (its ``NCPU``), or None when it does not say."""
    from libreplay.engine.docker_api import client, engine_errors

    with engine_errors():
        count = client().info().get("NCPU")
    return count if isinstance(count, int) and count > 0 else None


# -- a service's limits in the session's model -------------------------------------------------


def limit_service(spec: dict[str, Any], ceiling: Limits) -> Limits:
    """Set ``ceiling`` on one service of the session's model (Compose's resolved form), keeping
    each limit of the pack's that is lower. Every way the pack could say a limit is folded into
    one setting each (``cpus``, ``mem_limit`` = ``memswap_limit``, ``pids_limit``): the engine
    refuses ``cpus`` beside ``cpu_quota``, and Compose refuses ``mem_limit`` beside a different
    ``deploy.resources.limits.memory``. Returns what the container gets."""
    deploy_limits = _pop_deploy_limits(spec)
    cpus = _lowest(ceiling.cpus, _number(spec.pop("cpus", None)), _number(deploy_limits.get("cpus")),
                   _quota_cpus(spec.pop("cpu_quota", None), spec.pop("cpu_period", None)))
    memory = int(_lowest(ceiling.memory, _number(spec.get("mem_limit")),
                         _number(deploy_limits.get("memory"))))
    pids = int(_lowest(ceiling.pids, _number(spec.get("pids_limit")), _number(deploy_limits.get("pids"))))
    given = Limits(cpus=max(MIN_CPUS, round(cpus, 2)), memory=memory, pids=pids)
    spec["cpus"] = given.cpus
    spec["mem_limit"] = given.memory
    spec["memswap_limit"] = given.memory  # no swap beyond the memory limit
    spec["pids_limit"] = given.pids
    _no_way_past_the_cpu_limit(spec)
    # A reservation above the limit is refused by the engine; it reserves nothing beyond it anyway.
    reservation = _number(spec.get("mem_reservation"))
    if reservation is not None and reservation > given.memory:
        spec["mem_reservation"] = given.memory
    reservations = _deploy_reservations(spec)
    for key, top in (("memory", given.memory), ("cpus", given.cpus)):
        reserved = _number(reservations.get(key))
        if reserved is not None and reserved > top:
            reservations[key] = top
    return given


# CPU weight at most the engine's default (1024): a bigger one would win every contention with
# other sessions whenever the host's cores are shared out beyond their number.
MAX_CPU_SHARES = 1024
# Capabilities that would let a container's processes run real-time (SCHED_FIFO/RR): the CFS
# quota that ``cpus`` sets does not throttle real-time tasks on common kernels (no
# CONFIG_RT_GROUP_SCHED), so one busy loop could take whole cores whatever the ceiling says.
REAL_TIME_CAPABILITIES = frozenset({"SYS_NICE", "SYS_RESOURCE"})


def _no_way_past_the_cpu_limit(spec: dict[str, Any]) -> None:
    """Whatever the pack asked: no real-time scheduling (the capabilities dropped, RLIMIT_RTPRIO
    0), and a CPU weight no larger than the default."""
    added = spec.get("cap_add")
    if isinstance(added, list):
        kept = [cap for cap in added if str(cap).upper().removeprefix("CAP_") not in REAL_TIME_CAPABILITIES]
        if kept:
            spec["cap_add"] = kept
        else:
            spec.pop("cap_add")
    ulimits = spec.get("ulimits")
    spec["ulimits"] = {**(ulimits if isinstance(ulimits, dict) else {}), "rtprio": {"soft": 0, "hard": 0}}
    shares = _number(spec.get("cpu_shares"))
    if shares is not None and shares > MAX_CPU_SHARES:
        spec["cpu_shares"] = MAX_CPU_SHARES


def _pop_deploy_limits(spec: dict[str, Any]) -> dict[str, Any]:
    deploy = spec.get("deploy")
    if not isinstance(deploy, dict):
        return {}
    resources = deploy.get("resources")
    if not isinstance(resources, dict):
        return {}
    limits = resources.pop("limits", None)
    return limits if isinstance(limits, dict) else {}


def _deploy_reservations(spec: dict[str, Any]) -> dict[str, Any]:
    deploy = spec.get("deploy")
    resources = deploy.get("resources") if isinstance(deploy, dict) else None
    reservations = resources.get("reservations") if isinstance(resources, dict) else None
    return reservations if isinstance(reservations, dict) else {}


def _number(value: Any) -> float | None:
    """A limit as Compose resolved it (a number, or a string of one); None when unset or
    unlimited (zero or negative)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _quota_cpus(quota: Any, period: Any) -> float | None:
    cpu_quota = _number(quota)
    if cpu_quota is None:
        return None
    return cpu_quota / (_number(period) or CPU_PERIOD_DEFAULT)


def _lowest(ceiling: float, *pack_values: float | None) -> float:
    return min([ceiling, *(value for value in pack_values if value is not None)])
