"""The Debian release the base image is made from, alone: ``replay-base-image --help`` shows it as
the default of ``--suite`` without loading :mod:`libreplay.host.baseimage` and the process and
engine layers below it (issue 13: --help <= 80 ms)."""

from __future__ import annotations

DEFAULT_SUITE = "bookworm"
