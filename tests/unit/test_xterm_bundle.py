"""The browser terminal's script, made from Debian's node-xterm modules (replaybook.web.xterm)."""

from __future__ import annotations

import pytest

from libreplay.host import doctor
from replaybook.web import xterm

pytestmark = pytest.mark.skipif(bool(doctor.xterm_missing()), reason="needs Debian's xterm.js (doctor --fix)")


def test_the_bundle_holds_the_terminal_and_the_fit_addon_and_no_tests() -> None:
    ids = xterm.module_ids()
    assert "xterm" in ids and "public/Terminal" in ids and ids[-1] == "addons/fit/fit"
    assert not [module for module in ids if module.endswith(".test")]
    script = xterm.bundle().decode()
    assert script.count("modules[") >= len(ids)
    assert "sourceMappingURL" not in script  # no request for a map the server does not serve
    assert 'require("chai")' not in script and "window.Terminal = Terminal" in script


def test_every_module_a_module_requires_is_in_the_bundle() -> None:
    import posixpath
    import re

    ids = set(xterm.module_ids())
    for module in ids:
        source = (doctor.XTERM_MODULES / f"{module}.js").read_text()
        for name in re.findall(r'require\("(\.[^"]+)"\)', source):
            assert posixpath.normpath(posixpath.join(posixpath.dirname(module), name)) in ids, (module, name)
