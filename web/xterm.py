"""xterm.js as the browser loads it, from Debian's packages, with nothing fetched from the web.

Debian bookworm's ``libjs-xterm`` ships xterm.css and a 288-byte xterm.js that only
``require``s modules it does not ship; ``node-xterm`` ships those modules (CommonJS, under
/usr/share/nodejs/xterm/lib). :func:`bundle` wraps each module in a function and adds a small
``require``, in one script served from our own origin (script-src 'self'): no build step, no
npm, and nothing but Debian's files. The fit addon is applied, and ``window.Terminal`` set.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from libreplay.host.doctor import XTERM_CSS, XTERM_MODULES

_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)
_ADDONS = ("addons/fit/fit",)

_LOADER = """
var cache = {};
function resolve(from, name) {
  var parts = from.split("/").slice(0, -1);
  name.split("/").forEach(function (part) {
    if (part === "..") { parts.pop(); } else if (part !== ".") { parts.push(part); }
  });
  return parts.join("/");
}
function load(id) {
  if (cache[id]) { return cache[id].exports; }
  var define = modules[id];
  if (!define) { throw new Error("xterm bundle: no module " + id); }
  var module = {exports: {}};
  cache[id] = module;
  define(function (name) { return load(resolve(id, name)); }, module, module.exports);
  return module.exports;
}
var Terminal = load("xterm");
load("addons/fit/fit").apply(Terminal);
window.Terminal = Terminal;
"""


def module_ids(lib: Path = XTERM_MODULES) -> list[str]:
    """Every module of the library the terminal needs (its tests and other addons left out)."""
    ids = []
    for path in sorted(lib.rglob("*.js")):  # the addons' folders are links, which rglob does not follow
        relative = path.relative_to(lib).with_suffix("").as_posix()
        if not relative.endswith(".test") and not relative.startswith("addons/"):
            ids.append(relative)
    return [*ids, *_ADDONS]


@cache
def bundle(lib: Path = XTERM_MODULES) -> bytes:
    parts = ["(function () {\n'use strict';\nvar modules = {};\n"]
    for module_id in module_ids(lib):
        source = _SOURCE_MAP.sub("", (lib / f"{module_id}.js").read_text(encoding="utf-8"))
        parts.append(f"modules[{json.dumps(module_id)}] = function (require, module, exports) {{\n"
                     f"{source}\n}};\n")
    parts.append(_LOADER)
    parts.append("})();\n")
    return "".join(parts).encode()


def stylesheet(path: Path = XTERM_CSS) -> bytes:
    return path.read_bytes()
