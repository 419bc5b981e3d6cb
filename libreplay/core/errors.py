"""Typed errors. Each carries the exit status the command-line adapters use.

Exit statuses (documented in docs/architecture.md):
  0  success
  1  a negative answer: not fixed, a test cycle failed, doctor found a required item missing
  2  bad command-line usage (typer's own)
  3  invalid input: a scenario, pack or state file that does not pass validation
  4  something named does not exist (scenario, pack, session)
  5  the environment is not usable (Docker engine, Compose, tmux, git)
  6  a scenario misbehaved at run time (baseline unhealthy, break did not break, timeout)
  7  a pack is not trusted at its checked-out commit: nothing of it was run (libreplay/packs/trust.py)
  128+N    stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP), after clean-up
"""

from __future__ import annotations


class ReplayError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InvalidInput(ReplayError):
    """A file or value given by the user or a pack is not acceptable."""

    exit_code = 3


class ScenarioInvalid(InvalidInput):
    """A scenario failed validation; ``problems`` lists every finding at once."""

    def __init__(self, scenario_dir: str, problems: list[str]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{scenario_dir}: scenario is invalid:\n{lines}")
        self.scenario_dir = scenario_dir
        self.problems = problems


class NotFound(ReplayError):
    """A scenario, pack or session that was named does not exist."""

    exit_code = 4


class Ambiguous(InvalidInput):
    """A name matches more than one thing (an id found in two packs)."""


class PackError(ReplayError):
    """A pack could not be added, updated or removed."""

    exit_code = 3


class EnvironmentProblem(ReplayError):
    """Docker, Compose, tmux or git is missing or not answering."""

    exit_code = 5


class ScenarioFailure(ReplayError):
    """A scenario did something it must not: unhealthy baseline, a break that does not break."""

    exit_code = 6


class SessionError(ReplayError):
    """A session is in a state that does not allow the requested action."""

    exit_code = 1


class ToolRefused(ReplayError):
    """A trainee's docker tool request that replaybook does not carry out (libreplay/session/tools.py):
    a verb, flag or service outside the allow-list. The message is the one line the trainee sees."""

    exit_code = 1


class PackUntrusted(ReplayError):
    """A scenario's pack has not been trusted at the commit checked out: nothing of it ran.

    ``pack`` is the pack's display name and ``commit`` the full commit id, so an adapter can
    show what it would run and ask.
    """

    exit_code = 7

    def __init__(self, message: str, *, pack: str, commit: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.pack = pack
        self.commit = commit


class Interrupted(ReplayError):
    """SIGINT, SIGTERM or SIGHUP arrived; clean-up has run. Exit status 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__("interrupted")
        self.signum = signum
        self.exit_code = 128 + signum
