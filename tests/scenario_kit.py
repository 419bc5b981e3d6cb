"""Build scenario directories and pack repositories for tests, without Docker.

``write_scenario`` writes a valid scenario (two services, break steps, an http_200 target);
tests change one thing at a time through its arguments. ``make_pack_repo`` commits scenarios
to a real git repository, the way a pack author publishes one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

DELETE = object()  # a meta/compose override that removes the key
SYMLINK = "symlink:"  # a file text starting so becomes a symbolic link to the rest

BASE_META: dict[str, Any] = {
    "id": "demo-502",
    "title": "Demo: the proxy answers 502",
    "page": "PAGE: web returns 502 for every request since the deploy.",
    "difficulty": 2,
    "tags": ["nginx", "demo"],
    "hints": ["Look at the proxy's upstream.", "Which port does the app listen on?"],
    "success_condition": "http_200",
    "success_target": "http://web/",
    "break": [
        {"cp": {"service": "web", "src": "broken/default.conf", "dest": "/etc/nginx/conf.d/default.conf"}},
        {"exec": {"service": "web", "cmd": ["nginx", "-s", "reload"]}},
    ],
}

BASE_COMPOSE: dict[str, Any] = {
    "services": {
        "web": {"image": "debian:bookworm-slim", "command": ["sleep", "infinity"], "ports": ["8080:80"]},
        "app": {"image": "debian:bookworm-slim", "command": ["sleep", "infinity"]},
    }
}

BASE_FILES: dict[str, str] = {
    "broken/default.conf": "server { listen 80; location / { proxy_pass http://app:9999; } }\n",
    "solve.sh": "#!/usr/bin/env bash\nexit 0\n",
}


def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is DELETE:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def write_scenario(
    directory: Path,
    *,
    meta: dict[str, Any] | None = None,
    compose: dict[str, Any] | None = None,
    files: dict[str, str | None] | None = None,
    meta_text: Any = None,
    compose_text: Any = None,
) -> Path:
    """A scenario in ``directory``: BASE_* with ``meta`` keys changed, ``compose`` replacing the
    compose file, ``files`` added (None removes a base file, ``symlink:TARGET`` makes a link), or raw
    texts."""
    directory.mkdir(parents=True, exist_ok=True)
    all_files: dict[str, str | None] = {**BASE_FILES, **(files or {})}
    for name, text in all_files.items():
        if text is None:
            continue
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith(SYMLINK):
            path.symlink_to(text.removeprefix(SYMLINK))
        else:
            path.write_text(text, encoding="utf-8")
    if meta_text is None:
        meta_text = json.dumps(_apply(BASE_META, meta or {}), indent=2)
    if meta_text is not DELETE:
        (directory / "meta.json").write_text(meta_text, encoding="utf-8")
    if compose_text is None:
        compose_text = yaml.safe_dump(compose if compose is not None else BASE_COMPOSE, sort_keys=False)
    if compose_text is not DELETE:
        (directory / "docker-compose.yml").write_text(compose_text, encoding="utf-8")
    return directory


def make_pack_repo(root: Path, scenario_ids: list[str], *, titles: dict[str, str] | None = None) -> Any:
    """A git repository at ``root`` holding one valid scenario per id, committed on ``main``."""
    import git

    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Pack Author")
        config.set_value("user", "email", "author@example.invalid")
    for scenario_id in scenario_ids:
        add_scenario_commit(repo, scenario_id, title=(titles or {}).get(scenario_id))
    return repo


def add_scenario_commit(repo: Any, scenario_id: str, *, title: str | None = None) -> str:
    """Write one scenario into ``repo`` and commit it; returns the commit's sha."""
    root = Path(repo.working_tree_dir)
    meta = {"id": scenario_id, "title": title or f"Scenario {scenario_id}"}
    write_scenario(root / scenario_id, meta=meta)
    repo.git.add("--all")
    repo.index.commit(f"add {scenario_id}")
    return str(repo.head.commit.hexsha)


def use_official_pack(monkeypatch: Any, root: Path, scenario_ids: list[str]) -> Path:
    """Point the official pack at ``root`` holding the given scenarios, so that a test does not
    depend on the scenarios shipped in packs/official (which grow while the project does)."""
    from libreplay.core import paths

    for scenario_id in scenario_ids:
        write_scenario(root / scenario_id, meta={"id": scenario_id, "title": f"Official {scenario_id}"})
    monkeypatch.setattr(paths, "official_pack_dir", lambda: root)
    return root


def unpacking_binds(root: Path) -> Any:
    """A bind holder for tests without an engine: each copy's archive (the real one,
    libreplay.session.bindcopies.bind_archive) unpacked under ``root/<volume>/`` instead of into
    a volume on the engine; the path of each copy, as the engine's Mountpoint would give it."""
    import io
    import shutil
    import tarfile

    from libreplay.session.bindcopies import bind_archive

    def hold(copies: Any, *, project: str, labels: dict[str, str], hidden: set[Path]) -> dict[int, str]:
        held = {}
        for copy_ in copies:
            volume = root / copy_.volume(project)
            shutil.rmtree(volume, ignore_errors=True)
            volume.mkdir(parents=True)
            with tarfile.open(fileobj=io.BytesIO(bind_archive(copy_, hidden))) as tar:
                tar.extractall(volume)
            held[copy_.index] = str(volume / copy_.entry)
        return held

    return hold
