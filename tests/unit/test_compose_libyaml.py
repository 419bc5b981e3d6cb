"""The compose file is composed by libyaml (CSafeLoader) where PyYAML has it, and every answer,
good or bad, is the one the pure-Python loader gives: the same document, the same checks on
the node graph, the same error messages and positions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from libreplay.scenario import compose_file

NAME = "docker-compose.yml"
TEXTS = {
    "valid": "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n",
    "merge carries env_file": "x: &a {env_file: /etc/passwd}\nservices:\n  web: {<<: *a, image: nginx}\n",
    "merge sequence": "x: &a {a: 1}\ny: &b {include: [o.yml]}\nservices: {web: {<<: [*a, *b]}}\n",
    "binary key": "services:\n  web:\n    ? !!binary ZW52X2ZpbGU=\n    : /etc/passwd\n",
    "tab": "services:\n\tweb: {}\n",
    "open flow": "services: [\n",
    "mapping in a scalar": "a: b: c\n",
    "undefined alias": "services:\n  web: *nope\n",
    "yaml 1.3 directive": "%YAML 1.3\n---\nservices: {web: {image: nginx}}\n",
    "two documents": "services: {web: {}}\n---\nx: 1\n",
    "bad indent": "services: {web: {}}\n  bad indent: 1\n",
    "nul": "\x00services: {}\n",
    "impossible date": "services: {web: {image: 2024-13-01}}\n",
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                 + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
                           for i in range(5)),
    "nested 500 deep": "services: " + "[" * 500 + "]" * 500 + "\n",
    "nested 2000 deep": "services: " + "[" * 2000 + "]" * 2000 + "\n",
}


def read(text: str, directory: Path) -> tuple[object, list[str], list[str]]:
    found = compose_file.read_compose_text(text, NAME, directory)
    return found.document, found.problems, found.warnings


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_libyaml_answers_as_the_pure_python_loader(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_libyaml = read(text, tmp_path)
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    assert read(text, tmp_path) == with_libyaml


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_a_valid_file_is_composed_by_libyaml() -> None:
    loader, node = compose_file._composed(TEXTS["valid"])
    loader.dispose()
    assert isinstance(loader, yaml.CSafeLoader)
    assert isinstance(node, yaml.MappingNode)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_a_file_libyaml_refuses_gets_the_pure_python_answer(tmp_path: Path) -> None:
    document, problems, _ = read(TEXTS["tab"], tmp_path)
    assert document is None
    assert problems == [f"{NAME}: invalid YAML at line 2 column 1: found character '\\t' that cannot "
                        "start any token"]
    document, problems, _ = read(TEXTS["yaml 1.3 directive"], tmp_path)
    assert problems == [] and document == {"services": {"web": {"image": "nginx"}}}
