"""The documentation keeps up with the code: every setting is on the configuration page, every
command on the commands page, every route and topic somewhere in the pages, and every relative
link resolves. The README stays a front page. No broker, no mkdocs build (`make docs` does that).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import unicodedata
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from infra.settings import Settings, variables
from schemas.topics import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
README_MAX_LINES = 250

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_ENV = re.compile(r"\bMODSTREAM_[A-Z0-9]+(?:_[A-Z0-9]+)*")
_ROUTE = re.compile(r"\b(GET|POST|PUT|DELETE|PATCH|WS) (/[^\s`'\"?)|,;]*)")
_PATH = re.compile(r"(/v1(?:alpha1)?/[A-Za-z0-9_{}:./-]*|/\$discovery/rest|/health\b)")
_COMMAND = re.compile(r"\bmodstream((?: [a-z][a-z0-9-]*)+)")


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def everything() -> str:
    return "\n".join(text(p) for p in [README, *PAGES])


# The README ----------------------------------------------------------------------------------


def test_readme_is_a_front_page() -> None:
    lines = text(README).splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    for command in ("make run", "make test", "make docs"):
        assert command in text(README)


def test_readme_links_every_page() -> None:
    linked = {link.split("#")[0] for link in _LINK.findall(text(README))}
    pages = [p.name for p in PAGES if p.name != "index.md"]  # the site's front page: the README's
    missing = [name for name in pages if f"docs/{name}" not in linked]
    assert not missing, f"README.md links no {missing}"


# Links and navigation ------------------------------------------------------------------------


def slug(heading: str) -> str:
    """A heading's anchor as Python-Markdown's toc extension (and, for these pages, GitHub)
    makes it."""
    explicit = re.search(r"\{\s*#([\w-]+)\s*\}\s*$", heading)
    if explicit:
        return explicit.group(1)
    value = heading.replace("`", "")
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def anchors(path: Path) -> set[str]:
    found, fenced = set(), False
    for line in text(path).splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(slug(line.lstrip("#").strip()))
    return found


GENERATED = {"reference/api.md", "reference/schemas.md", "openapi.json"}


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for link in _LINK.findall(text(page)):
        if re.match(r"^[a-z]+:", link):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        if target in GENERATED and page.parent == DOCS:
            continue  # written by docs/api_reference.py when the site is built
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
            broken.append(link)
    assert not broken, f"{page.name}: broken links {broken}"


def nav_pages(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(nav_pages(item) for item in nav))
    if isinstance(nav, dict):
        return set().union(*(nav_pages(value) for value in nav.values()))
    return set()


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load(text(ROOT / "mkdocs.yml"))
    listed = nav_pages(config["nav"])
    assert listed - GENERATED == {p.name for p in PAGES}


# Settings ------------------------------------------------------------------------------------


def settings_env() -> set[str]:
    return variables()


def env_read_by_commands() -> set[str]:
    """Variables the commands read themselves (os.environ), outside the settings."""
    found = set()
    for package in ("schemas", "infra", "streams", "producers", "api"):
        for source in (ROOT / package).rglob("*.py"):
            found |= set(re.findall(r"environ(?:\.get)?[(\[]\s*['\"](MODSTREAM_\w+)", text(source)))
    return found - settings_env()


def test_every_setting_is_on_the_configuration_page() -> None:
    page = set(_ENV.findall(text(DOCS / "configuration.md")))
    missing = sorted((settings_env() | env_read_by_commands()) - page)
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_every_variable_the_docs_name_exists() -> None:
    unknown = sorted(set(_ENV.findall(everything())) - settings_env() - env_read_by_commands())
    assert not unknown, f"the docs name settings that do not exist: {unknown}"


# Commands ------------------------------------------------------------------------------------

_TREE = """
import json, sys
from typer.main import get_command
from infra import cli
sys.argv = ["modstream", "--help"]
try:
    cli.main()  # registers every package's subcommands, prints the help, exits
except SystemExit:
    pass
def tree(command):
    subs = getattr(command, "commands", None)
    if not subs:
        return None
    return {n: tree(c) for n, c in subs.items() if not getattr(c, "hidden", False)}
print()
print(json.dumps(tree(get_command(cli.app))))
"""


@cache
def command_tree() -> dict[str, Any]:
    """The `modstream` command tree (name → subtree, None for a command), built in a child
    process: loading the subcommands changes the root command for good."""
    out = subprocess.run(
        [sys.executable, "-c", _TREE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    tree: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return tree


def leaves(tree: dict[str, Any], prefix: str = "modstream") -> list[str]:
    found = []
    for name, sub in tree.items():
        found += leaves(sub, f"{prefix} {name}") if sub else [f"{prefix} {name}"]
    return found


def test_every_command_is_on_the_commands_page() -> None:
    page = text(DOCS / "commands.md")
    missing = [
        c for c in leaves(command_tree()) if not re.search(rf"{re.escape(c)}(?=[\s`])", page)
    ]
    assert not missing, f"docs/commands.md lacks {missing}"


def test_every_command_the_docs_name_exists() -> None:
    unknown = set()
    for words in _COMMAND.findall(everything()):
        node: dict[str, Any] | None = command_tree()
        for word in words.split():
            if node is None:  # a command: the rest are its arguments
                break
            if word not in node:
                unknown.add(f"modstream{words}")
                break
            node = node[word]
    assert not unknown, f"the docs name commands that do not exist: {sorted(unknown)}"


# The API -------------------------------------------------------------------------------------


@cache
def api_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_reference", DOCS / "api_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def app_routes() -> set[tuple[str, str]]:
    from api.app import create_app

    settings = Settings(_env_file=None, env="development", kafka_bootstrap="127.0.0.1:9")
    routes: set[tuple[str, str]] = api_reference().routes(create_app(settings).routes)
    return routes


def shape(path: str) -> str:
    """A path with its parameters as `{}`: `/v1/posts/{post_id}` → `/v1/posts/{}`."""
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip(".:/")) or "/"


def fits(path: str, template: str) -> bool:
    """Whether a path the docs name (`/v1/verdicts/x-…` too) is an instance of a route's."""
    given, expected = shape(path).split("/"), shape(template).split("/")
    return len(given) == len(expected) and all(
        e in (g, "{}") for g, e in zip(given, expected, strict=True)
    )


def test_every_route_the_docs_name_exists() -> None:
    unknown = sorted(
        (method, path)
        for method, path in set(_ROUTE.findall(everything()))
        if not any(m == method and fits(path, route) for m, route in app_routes())
    )
    assert not unknown, f"the docs name routes that do not exist: {unknown}"


def test_every_route_is_in_the_pages() -> None:
    """Every route of the OpenAPI document, and every WebSocket route."""
    document, websockets = api_reference().build_openapi()
    mentioned = {shape(path) for path in _PATH.findall(everything())}
    missing = sorted(p for p in [*document["paths"], *websockets] if shape(p) not in mentioned)
    assert not missing, f"no page mentions {missing}"


def test_the_api_reference_renders_every_operation() -> None:
    module = api_reference()
    document, websockets = module.build_openapi()
    pages = module.render(document, websockets)
    operations = pages[module.API_PAGE]
    for path, item in document["paths"].items():
        for method in item:
            assert "{#" + module.operation_anchor(method, path) + "}" in operations
    schemas = pages[module.SCHEMAS_PAGE]
    for name in set(re.findall(r"\(schemas\.md#([\w-]+)\)", operations)):
        assert "{#" + name + "}" in schemas
    assert json.loads(pages[module.OPENAPI_FILE]) == document
    assert "WS /v1/verdicts/ws" in operations


# Topics --------------------------------------------------------------------------------------


def test_every_topic_is_in_the_topics_page() -> None:
    page = text(DOCS / "streaming.md")
    missing = [t.name for t in CATALOGUE if f"`{t.name}`" not in page]
    assert not missing, f"docs/streaming.md lacks {missing}"
