"""The malformed-scenario corpus: every problem the format defines, each caught by replay-validate.

Each case changes one thing in a valid scenario (tests/scenario_kit.py) and expects exit status 3,
a message naming the file and the field, no traceback, and nothing written or started.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from scenario_kit import BASE_COMPOSE, BASE_META, DELETE, write_scenario
from typer.testing import CliRunner

from libreplay.core.errors import ScenarioInvalid
from libreplay.scenario.load import load_scenario
from replaybook.commands import validate as validate_command


def web(**changes: Any) -> dict[str, Any]:
    """BASE_COMPOSE with the ``web`` service's settings changed."""
    compose = copy.deepcopy(BASE_COMPOSE)
    compose["services"]["web"].update(changes)
    return compose


def exec_step(service: str, cmd: Any = ("true",)) -> dict[str, Any]:
    return {"exec": {"service": service, "cmd": list(cmd) if isinstance(cmd, tuple) else cmd}}


def cp_step(src: Any, dest: Any = "/etc/x.conf") -> dict[str, Any]:
    return {"cp": {"service": "web", "src": src, "dest": dest}}


WEB = "docker-compose.yml: services.web"
NOT_A_SERVICE = "is not a service of docker-compose.yml (services: web, app)"
CHECK_SH = {"check.sh": "#!/usr/bin/env bash\ntrue\n"}
# Nine levels of ten aliases each: a billion values once expanded, a few hundred bytes as text.
BILLION_LAUGHS = "a0: &a0 [lol]\n" + "".join(
    f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 10)
) + "services:\n  web: {image: x, labels: *a9}\n  app: {image: x}\n"
LINK_TO_PASSWD = "symlink:/etc/passwd"  # write_scenario makes this a symbolic link


@dataclass
class Case:
    name: str
    expected: str  # "file: field" (and more) that the message must contain
    meta: dict[str, Any] = field(default_factory=dict)
    compose: dict[str, Any] | None = None
    files: dict[str, str | None] = field(default_factory=dict)
    meta_text: Any = None
    compose_text: Any = None

    def write(self, directory: Path) -> Path:
        return write_scenario(
            directory, meta=self.meta, compose=self.compose, files=self.files,
            meta_text=self.meta_text, compose_text=self.compose_text,
        )


CORPUS = [
    # -- required fields, types and ranges -------------------------------------------------
    Case("id-missing", "meta.json: id: missing", meta={"id": DELETE}),
    Case("id-wrong-type", "meta.json: id: must be a non-empty string, got 7", meta={"id": 7}),
    Case("id-bad", "meta.json: id: must use lowercase letters", meta={"id": "Nginx 502!"}),
    Case("id-trailing-newline", "meta.json: id: must use lowercase letters", meta={"id": "s3\n"}),
    Case("title-missing", "meta.json: title: missing", meta={"title": DELETE}),
    Case("title-wrong-type", "meta.json: title: must be a non-empty string", meta={"title": ["x"]}),
    Case("title-empty", "meta.json: title: must be a non-empty string", meta={"title": "  "}),
    Case("page-missing", "meta.json: page: missing", meta={"page": DELETE}),
    Case("page-wrong-type", "meta.json: page: must be a non-empty string, got 3", meta={"page": 3}),
    Case("difficulty-missing", "meta.json: difficulty: missing", meta={"difficulty": DELETE}),
    Case("difficulty-string", 'meta.json: difficulty: must be an integer from 1 to 5, got \'3\'',
         meta={"difficulty": "3"}),
    Case("difficulty-too-high", "meta.json: difficulty: must be an integer from 1 to 5, got 6",
         meta={"difficulty": 6}),
    Case("difficulty-zero", "meta.json: difficulty: must be an integer from 1 to 5, got 0",
         meta={"difficulty": 0}),
    Case("difficulty-bool", "meta.json: difficulty: must be an integer from 1 to 5, got true",
         meta={"difficulty": True}),
    Case("tags-not-list", "meta.json: tags: must be a list of strings", meta={"tags": "nginx"}),
    Case("hints-item-wrong-type", "meta.json: hints[1]: must be a non-empty string",
         meta={"hints": ["ok", 42]}),
    Case("sla-zero", "meta.json: sla_minutes: must be an integer from 1 to 1440, got 0",
         meta={"sla_minutes": 0}),
    Case("source-not-object", "meta.json: source: must be an object", meta={"source": "postmortem"}),
    Case("source-sanitized-string", "meta.json: source.sanitized: must be true or false",
         meta={"source": {"sanitized": "yes"}}),
    Case("shell-unknown-service", 'meta.json: shell: "db" is not a service of docker-compose.yml',
         meta={"shell": "db"}),
    # -- success condition ------------------------------------------------------------------
    Case("success-condition-missing", "meta.json: success_condition: missing",
         meta={"success_condition": DELETE}),
    Case("success-condition-bad", 'meta.json: success_condition: must be "http_200" or "exit_zero"',
         meta={"success_condition": "http_500"}),
    Case("success-condition-wrong-type", "meta.json: success_condition: must be",
         meta={"success_condition": 200}),
    Case("http-target-missing", "meta.json: success_target: must be an http(s) URL, got null",
         meta={"success_target": DELETE}),
    Case("http-target-malformed", "meta.json: success_target: must be an http(s) URL, got 'http://'",
         meta={"success_target": "http://"}),
    Case("http-target-not-url", "meta.json: success_target: must be an http(s) URL",
         meta={"success_target": "web port 80"}),
    Case("http-target-bad-port", "meta.json: success_target: must be an http(s) URL",
         meta={"success_target": "http://web:99999/"}),
    Case("http-target-ftp", "meta.json: success_target: must be an http(s) URL, got 'ftp://web/'",
         meta={"success_target": "ftp://web/"}),
    Case("http-target-unknown-host",
         f'meta.json: success_target (host): "nginx" {NOT_A_SERVICE}',
         meta={"success_target": "http://nginx/health"}),
    Case("exit-zero-without-check", "meta.json: success_condition: needs check.sh, which does not exist",
         meta={"success_condition": "exit_zero", "success_target": DELETE}),
    # -- break steps ------------------------------------------------------------------------
    Case("break-unknown-service",
         f'meta.json: break[1].exec.service: "nginx" {NOT_A_SERVICE}',
         meta={"break": [exec_step("web"), exec_step("nginx")]}),
    Case("break-empty", "meta.json: break: no fault injection", meta={"break": []}),  # [] is absent
    Case("break-unknown-action", "meta.json: break[0]: unknown step 'rm'", meta={"break": [{"rm": {}}]}),
    Case("break-two-actions", "meta.json: break[0]: must be one of",
         meta={"break": [{**exec_step("web"), **cp_step("broken/default.conf")}]}),
    Case("break-exec-cmd-string", "meta.json: break[0].exec.cmd: must be a non-empty list of strings",
         meta={"break": [exec_step("web", "nginx -s stop")]}),
    Case("break-restart-no-service", "meta.json: break[0].restart.service: must be a service name",
         meta={"break": [{"restart": {}}]}),
    Case("cp-src-outside", "meta.json: break[0].cp.src: ../../etc/passwd is outside the scenario directory",
         meta={"break": [cp_step("../../etc/passwd")]}),
    Case("cp-src-absolute", "meta.json: break[0].cp.src: /etc/passwd is outside the scenario directory",
         meta={"break": [cp_step("/etc/passwd")]}),
    Case("cp-src-missing", "meta.json: break[0].cp.src: broken/missing.conf does not exist",
         meta={"break": [cp_step("broken/missing.conf")]}),
    Case("cp-src-directory", "meta.json: break[0].cp.src: broken is a directory",
         meta={"break": [cp_step("broken")]}),
    Case("cp-dest-relative", "meta.json: break[0].cp.dest: must be an absolute path in the container",
         meta={"break": [cp_step("broken/default.conf", "etc/nginx/nginx.conf")]}),
    Case("cp-dest-directory", "meta.json: break[0].cp.dest: /etc/nginx/ names a directory",
         meta={"break": [cp_step("broken/default.conf", "/etc/nginx/")]}),
    Case("cp-dest-root", "meta.json: break[0].cp.dest: / names a directory",
         meta={"break": [cp_step("broken/default.conf", "/")]}),
    Case("cp-dest-dot", "meta.json: break[0].cp.dest: /etc/. names a directory",
         meta={"break": [cp_step("broken/default.conf", "/etc/.")]}),
    Case("no-fault-injection", "meta.json: break: no fault injection: add break.sh",
         meta={"break": DELETE}),
    Case("break-and-faults", "meta.json: break: give either 'break' or 'faults', not both",
         meta={"faults": [{"name": "a", "break": [exec_step("web")]}]}),
    # -- faults -----------------------------------------------------------------------------
    Case("fault-script-missing", "meta.json: faults[0].script: needs break-a.sh, which does not exist",
         meta={"break": DELETE, "faults": [{"name": "a", "script": "break-a.sh"}]}),
    Case("fault-script-outside", "meta.json: faults[0].script: ../break.sh is outside the scenario directory",
         meta={"break": DELETE, "faults": [{"name": "a", "script": "../break.sh"}]}),
    Case("fault-duplicate-names", "meta.json: faults[1].name: duplicate fault name 'a'",
         meta={"break": DELETE, "faults": [{"name": "a", "break": [exec_step("web")]},
                                          {"name": "a", "break": [exec_step("app")]}]}),
    Case("fault-break-and-script", "meta.json: faults[0]: needs exactly one of 'break' (steps) or 'script'",
         meta={"break": DELETE,
               "faults": [{"name": "a", "break": [exec_step("web")], "script": "solve.sh"}]}),
    Case("fault-neither-break-nor-script", "meta.json: faults[0]: needs exactly one of",
         meta={"break": DELETE, "faults": [{"name": "a"}]}),
    Case("fault-bad-name", "meta.json: faults[0].name: must be a short lowercase name",
         meta={"break": DELETE, "faults": [{"name": "Bad Name", "script": "solve.sh"}]}),
    Case("fault-name-trailing-newline", "meta.json: faults[0].name: must be a short lowercase name",
         meta={"break": DELETE, "faults": [{"name": "a\n", "script": "solve.sh"}]}),
    Case("faults-empty", "meta.json: break: no fault injection",  # [] and null are absent
         meta={"break": None, "faults": []}),
    Case("faults-not-a-list", "meta.json: faults: must be a list of faults (null or [] for none), got 'a'",
         meta={"break": DELETE, "faults": "a"}),
    Case("fault-step-unknown-service",
         'meta.json: faults[0].break[0].restart.service: "db" is not a service of docker-compose.yml',
         meta={"break": DELETE, "faults": [{"name": "a", "break": [{"restart": {"service": "db"}}]}]}),
    # -- files that do not parse --------------------------------------------------------------
    Case("meta-invalid-json", "meta.json: invalid JSON at line 3 column 1",
         meta_text='{\n  "id": "x",\n}\n'),
    Case("meta-not-object", "meta.json: must hold a JSON object, got a list", meta_text="[1, 2]\n"),
    Case("meta-missing", "meta.json: missing", meta_text=DELETE),
    Case("compose-invalid-yaml", "docker-compose.yml: invalid YAML at line 2 column 1",
         compose_text="services:\n\tweb: {}\n"),
    Case("compose-missing", "docker-compose.yml: missing", compose_text=DELETE),
    Case("compose-no-services", "docker-compose.yml: services: must be a non-empty mapping",
         compose={"services": {}}),
    Case("compose-not-mapping", "docker-compose.yml: must hold a mapping", compose_text="- web\n"),
    Case("compose-empty", "docker-compose.yml: must hold a mapping", compose_text=""),
    Case("compose-impossible-date", "docker-compose.yml: invalid YAML: month must be in 1..12",
         compose_text="services:\n  web:\n    image: x\n    labels:\n      built: 2020-13-45\n"),
    # -- documents that would cost too much to read: refused in bounded time and memory ----------
    Case("meta-huge-integer", "meta.json: invalid JSON: Exceeds the limit",
         meta_text='{"id": "x", "difficulty": ' + "9" * 5000 + "}"),
    Case("meta-nested-too-deeply", "meta.json: invalid JSON: nested too deeply",
         meta_text="[" * 100_000 + "]" * 100_000),
    Case("meta-too-large", "meta.json: larger than 1024 KiB",
         meta_text='{"id": "x", "page": "' + "x" * (1 << 20) + '"}'),
    Case("sla-absurd", "meta.json: sla_minutes: must be an integer from 1 to 1440",
         meta={"sla_minutes": 10**30}),
    Case("compose-alias-bomb", "docker-compose.yml: expands to more than 100000 values",
         compose_text=BILLION_LAUGHS),
    Case("compose-huge-integer", "docker-compose.yml: invalid YAML: Exceeds the limit",
         compose_text="services:\n  web:\n    image: x\n    mem_limit: " + "9" * 5000 + "\n"),
    Case("compose-nested-too-deeply", "docker-compose.yml: invalid YAML: nested too deeply",
         compose_text="services: " + "[" * 50_000 + "]" * 50_000 + "\n"),
    # -- other ways around the checks: files Compose reads while it resolves the model ------------
    Case("compose-include", "docker-compose.yml: include: other compose files are not allowed",
         compose={**BASE_COMPOSE, "include": ["../other/compose.yml"]}),
    Case("extends-another-file", f"{WEB}.extends.file: must not name another compose file",
         compose=web(extends={"file": "../../evil.yml", "service": "root"})),
    Case("env-file-host-path", f"{WEB}.env_file[0]: a host file outside the scenario",
         compose=web(env_file=["~/.aws/credentials"])),
    Case("env-file-interpolated", f"{WEB}.env_file[0]: a host file outside the scenario",
         compose=web(env_file="${X:-/etc/shadow}")),
    Case("env-file-long-syntax", f"{WEB}.env_file[0]: a host file outside the scenario",
         compose=web(env_file=[{"path": "/root/.env", "required": False}])),
    Case("env-file-in-an-anchor", "docker-compose.yml: x-common.env_file[0]: a host file outside",
         compose_text="x-common: &common\n  env_file: /etc/shadow\nservices:\n  web:\n    <<: *common\n"
                      "    image: x\n  app:\n    image: x\n"),
    Case("env-file-behind-a-binary-key", f"{WEB}.ZW52X2ZpbGU=: a key must be a plain",
         compose_text="services:\n  web:\n    image: x\n    ? !!binary ZW52X2ZpbGU=\n    : /etc/shadow\n"
                      "  app:\n    image: x\n"),
    Case("env-file-first-in-a-merge-sequence", f"{WEB}.env_file[0]: a host file outside the scenario (/e",
         compose_text="services:\n  web:\n    <<: [{env_file: /etc/shadow}, {env_file: ./ok.env}]\n"
                      "    image: x\n  app:\n    image: x\n", files={"ok.env": "A=1\n"}),
    Case("extends-file-in-a-merge", "docker-compose.yml: x-e.extends.file: must not name another compose",
         compose_text="x-e: &e\n  extends: {file: /tmp/evil.yml, service: s}\nservices:\n  web:\n"
                      "    <<: *e\n    image: x\n  app:\n    image: x\n"),
    Case("include-behind-a-merge-key", "docker-compose.yml: include: other compose files are not allowed",
         compose_text="x-inc: &inc\n  include: [/tmp/host/inc.yml]\n<<: *inc\nservices:\n  web:\n"
                      "    image: x\n  app:\n    image: x\n"),
    Case("extends-file-behind-a-merge-key", f"{WEB}.extends.file: must not name another compose",
         compose_text="x-ext: &ext\n  file: /tmp/host/secret.yml\n  service: s\nservices:\n  web:\n"
                      "    image: x\n    extends: {<<: *ext}\n  app:\n    image: x\n"),
    Case("dotenv-link-outside", ".env: a link to a file outside the scenario directory",
         files={".env": LINK_TO_PASSWD}),
    # -- compose values of the wrong shape: a report, never a traceback -------------------------
    Case("service-not-mapping", f"{WEB}: must be a mapping, got a list",
         compose={"services": {"web": ["nginx"], "app": BASE_COMPOSE["services"]["app"]}}),
]


def test_the_corpus_covers_at_least_25_distinct_problems() -> None:
    assert len(CORPUS) >= 25
    assert len({case.name for case in CORPUS}) == len(CORPUS)


def test_the_base_scenario_is_valid(tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path / "ok"))
    assert scenario.id == "demo-502"
    assert scenario.services == ("web", "app")
    assert scenario.warnings == ()


def _entries(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*"))


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_validate_rejects_malformed_scenario(case: Case, tmp_path: Path, replaybook_home: Path) -> None:
    directory = case.write(tmp_path / case.name)
    files_before = _entries(directory)

    result = CliRunner().invoke(validate_command.app, [str(directory)])

    assert result.exit_code == 3, result.output
    assert case.expected in result.stderr
    assert str(directory) in result.stderr  # the message names the scenario directory
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""  # nothing reported as ok
    assert _entries(replaybook_home) == []  # nothing written
    assert _entries(directory) == files_before  # the scenario is left untouched


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_loader_raises_scenario_invalid_with_the_problem(case: Case, tmp_path: Path) -> None:
    directory = case.write(tmp_path / case.name)
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(directory)
    assert any(case.expected in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    directory = write_scenario(
        tmp_path / "many", meta={"id": "BAD ID", "difficulty": 9, "title": DELETE},
        compose=web(env_file="/etc/shadow"),
    )
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(directory)
    text = "\n".join(caught.value.problems)
    for field_name in ("meta.json: id", "meta.json: difficulty", "meta.json: title",
                       f"{WEB}.env_file[0]"):
        assert field_name in text


def test_an_unreadable_meta_json_is_one_problem_not_a_list_of_missing_fields(tmp_path: Path) -> None:
    directory = write_scenario(tmp_path / "broken-json", meta_text="{ nope")
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(directory)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("meta.json: invalid JSON at line 1 column 3")


def test_unknown_keys_are_a_warning_and_the_scenario_stays_valid(tmp_path: Path) -> None:
    directory = write_scenario(
        tmp_path / "extra",
        meta={"author_notes": "x", "source": {"reference": "PM-12", "ticket": "T-1"}},
    )
    scenario = load_scenario(directory)
    assert "meta.json: author_notes: unknown key, ignored" in scenario.warnings
    assert "meta.json: source.ticket: unknown key, ignored" in scenario.warnings

    result = CliRunner().invoke(validate_command.app, [str(directory)])
    assert result.exit_code == 0, result.output
    assert "warning: meta.json: author_notes: unknown key, ignored" in result.stderr
    assert result.stdout.strip() == "ok  local/demo-502"


def test_valid_variants_pass(tmp_path: Path) -> None:
    """The shapes the format allows, each on its own: they must not be reported."""
    variants = {
        "exit-zero": {"meta": {"success_condition": "exit_zero", "success_target": DELETE},
                      "files": CHECK_SH},
        "break-script": {"meta": {"break": DELETE}, "files": {"break.sh": "#!/bin/bash\n"}},
        "faults": {"meta": {"break": DELETE, "faults": [
            {"name": "a", "break": [exec_step("web")], "hints": ["fault a"]},
            {"name": "b", "script": "break-b.sh"}]}, "files": {"break-b.sh": "#!/bin/bash\n"}},
        "localhost-published": {"meta": {"success_target": "http://localhost:8080/"}},
        "named-volume-and-relative-bind": {"meta": {}, "compose": web(
            volumes=["data:/var/lib/data", "./broken:/srv/broken:ro",
                     {"type": "bind", "source": "broken/../broken", "target": "/b"}],
            build={"context": ".", "additional_contexts": ["base=docker-image://debian:bookworm-slim"]},
            env_file=["broken/default.conf"], extends="app")},
        "own-secret-and-service-network": {"meta": {}, "compose": {
            "services": {"web": {**BASE_COMPOSE["services"]["web"], "network_mode": "service:app"},
                         "app": BASE_COMPOSE["services"]["app"]},
            "secrets": {"s": {"file": "./broken/default.conf"}}}},
    }
    for name, parts in variants.items():
        scenario = load_scenario(write_scenario(tmp_path / name, **parts))
        assert scenario.id == "demo-502", name
    faults = load_scenario(tmp_path / "faults").faults
    assert [f.name for f in faults] == ["a", "b"]
    assert faults[0].hints == ("fault a",)
    assert faults[1].script == "break-b.sh"


def test_real_replay_validate_executable_rejects_the_corpus(tmp_path: Path) -> None:
    """One run of the installed executable over the whole corpus: exit 3, every problem, no
    traceback, no Docker contacted (DOCKER_HOST points nowhere) and nothing written."""
    directories = [case.write(tmp_path / "corpus" / case.name) for case in CORPUS]
    executable = Path(sys.executable).with_name("replay-validate")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "REPLAYBOOK_HOME": str(home), "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    result = subprocess.run(
        [str(executable), *map(str, directories)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "docker.sock" not in result.stderr.replace("Docker socket", "")  # no engine was contacted
    for case in CORPUS:
        assert case.expected in result.stderr, case.name
    assert f"{len(CORPUS)} of {len(CORPUS)} scenario(s) invalid" in result.stderr
    assert result.stdout == ""
    assert list(home.iterdir()) == []


def test_validating_imports_no_docker_client(tmp_path: Path) -> None:
    """Validation is static: the Docker SDK is never even imported, so nothing can be started."""
    directory = CORPUS[0].write(tmp_path / "one")
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from replaybook.commands import validate\n"
        f"result = CliRunner().invoke(validate.app, [{str(directory)!r}])\n"
        "assert result.exit_code == 3, result.output\n"
        "print(sorted(m for m in sys.modules if m == 'docker' or m.startswith('docker.')))\n"
    )
    env = {**os.environ, "REPLAYBOOK_HOME": str(tmp_path / "home")}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=60, check=True).stdout
    assert output.strip() == "[]"


# -- odd values anywhere: a problem report or a scenario, never an exception ------------------

ODD_VALUES: list[Any] = [
    None, True, False, 0, 80, -1, 1.5, "", "x", "host", "/", "../..", "$X", "a\x00b", "s3\n",
    [], [None], [1, [2]], [{}], ["/:/h"], [{"type": "bind"}], {}, {"a": None}, {"a": [1]}, {1: 2},
    {"type": "bind", "source": 7}, datetime.date(2020, 1, 1),
]
TOP_LEVEL_KEYS = ("services", "volumes", "networks", "configs", "secrets", "name", "include")
SERVICE_KEYS = ("volumes", "ports", "environment", "build", "cap_add", "security_opt", "devices",
                "networks", "privileged", "pid", "network_mode", "container_name", "image", "depends_on",
                "extends", "env_file")
ODD_COMPOSE_TEXTS = ["", "null", "[]", "42", "services:", "services: 5", "services: {web: 5}",
                     "a: !!binary xx", "a: !!int x", "services: &s {web: *s}", "x: &a [*a]\nservices: *a"]


def _compose_variants() -> list[tuple[str, dict[str, Any]]]:
    variants = []
    for value in ODD_VALUES:
        for key in TOP_LEVEL_KEYS:
            variants.append((f"{key}={value!r}", {**BASE_COMPOSE, key: value}))
        for key in SERVICE_KEYS:
            variants.append((f"services.web.{key}={value!r}", web(**{key: value})))
        for key in ("volumes", "networks", "secrets", "configs"):
            variants.append((f"{key}.x={value!r}", {**BASE_COMPOSE, key: {"x": value}}))
        variants.append((f"secrets.x.file={value!r}", {**BASE_COMPOSE, "secrets": {"x": {"file": value}}}))
        variants.append((f"build.additional_contexts={value!r}",
                         web(build={"context": ".", "additional_contexts": value})))
        variants.append((f"volumes.x.driver_opts={value!r}",
                         {**BASE_COMPOSE, "volumes": {"x": {"driver_opts": value}}}))
        variants.append((f"volumes.x.driver_opts.device={value!r}",
                         {**BASE_COMPOSE, "volumes": {"x": {"driver_opts": {"o": "bind", "device": value}}}}))
        variants.append((f"networks.x.external={value!r}",
                         {**BASE_COMPOSE, "networks": {"x": {"external": value}}}))
        for key in ("volumes", "ports", "env_file"):
            variants.append((f"services.web.{key}[0]={value!r}", web(**{key: [value]})))
        variants.append((f"services.web.volumes[0].source={value!r}",
                         web(volumes=[{"type": "bind", "source": value, "target": "/t"}])))
        variants.append((f"services.web.ports[0].published={value!r}",
                         web(ports=[{"published": value, "target": 80}])))
        variants.append((f"services.web.build.context={value!r}", web(build={"context": value})))
    return variants


def _load_or_report(directory: Path) -> None:
    try:
        load_scenario(directory)
    except ScenarioInvalid as exc:
        assert exc.problems and all(": " in problem for problem in exc.problems), exc.problems


def test_no_compose_shape_raises_anything_but_scenario_invalid(tmp_path: Path) -> None:
    directory = write_scenario(tmp_path / "fuzz")
    compose_file = directory / "docker-compose.yml"
    variants = _compose_variants()
    for label, compose in variants:
        compose_file.write_text(yaml.safe_dump(compose, sort_keys=False), encoding="utf-8")
        try:
            _load_or_report(directory)
        except Exception as exc:  # noqa: BLE001 - the point is to name the variant that raised
            pytest.fail(f"{label}: {type(exc).__name__}: {exc}")
    for text in ODD_COMPOSE_TEXTS:
        compose_file.write_text(text, encoding="utf-8")
        try:
            _load_or_report(directory)  # a self-referencing `services` is odd but a valid mapping
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{text!r}: {type(exc).__name__}: {exc}")
    assert len(variants) > 500


def test_no_meta_value_raises_anything_but_scenario_invalid(tmp_path: Path) -> None:
    directory = write_scenario(tmp_path / "fuzz")
    meta_keys = ["id", "title", "page", "difficulty", "hints", "tags", "source", "success_condition",
                 "success_target", "sla_minutes", "shell", "break", "faults"]
    json_values = [v for v in ODD_VALUES if not isinstance(v, datetime.date) and not _has_int_keys(v)]
    nested = [{"name": "a", "script": v} for v in json_values]
    nested += [{"name": "a", "solve": v} for v in json_values]
    nested += [{"exec": {"service": "web", "cmd": v}} for v in json_values]
    nested += [{"cp": {"service": "web", "src": v, "dest": "/x"}} for v in json_values]
    for key in meta_keys:
        for value in [*json_values, [*nested]]:
            (directory / "meta.json").write_text(json.dumps({**BASE_META, key: value}), encoding="utf-8")
            try:
                _load_or_report(directory)
            except Exception as exc:  # noqa: BLE001
                pytest.fail(f"meta.json {key}={value!r}: {type(exc).__name__}: {exc}")


def _has_int_keys(value: Any) -> bool:
    return isinstance(value, dict) and any(not isinstance(k, str) for k in value)
