"""What ``replay-new`` offers before it scaffolds anything: the stacks and the defaults.

Kept apart from :mod:`libreplay.authoring.scaffold` so that ``replay-new --help``, whose option
help lists them, imports neither the scaffolder nor its template files (issue 13: --help <= 80 ms).
"""

from __future__ import annotations

# The stacks, each with what it is for (shown by --help and the prompt).
TEMPLATES: dict[str, str] = {
    "blank": "one small service (a python app)",
    "nginx-app": "nginx in front of a small python app",
    "app-postgres": "a python app with a Postgres database, seeded at build time",
    "app-redis": "a python app with Redis",
}
DEFAULT_TEMPLATE = "blank"
DEFAULT_DIFFICULTY = 2
