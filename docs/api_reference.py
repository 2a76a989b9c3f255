"""The API reference of the documentation site, generated from the API's OpenAPI document.

mkdocs runs this module as a hook (`hooks:` in mkdocs.yml). Its `on_files` builds the FastAPI app
(`api.app.create_app`) without starting it, so no broker, warehouse or accounts store is needed,
and adds three generated files to the site: `reference/api.md` (every operation, grouped by tag:
method, path, summary, description, parameters, request body with its schema and example,
responses), `reference/schemas.md` (every schema the operations name) and the raw `openapi.json`.

`python docs/api_reference.py DIR` writes the same three files into DIR.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.routing import Mount

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

ROOT = Path(__file__).resolve().parent.parent
API_PAGE = "reference/api.md"
SCHEMAS_PAGE = "reference/schemas.md"
OPENAPI_FILE = "openapi.json"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

Schema = dict[str, Any]


def build_openapi() -> tuple[dict[str, Any], list[str]]:
    """The OpenAPI document of this checkout's API, and the paths of its WebSocket routes (which
    OpenAPI does not describe). Nothing is started: the app's lifespan never runs."""
    if str(ROOT) not in sys.path:  # document this checkout, whatever is installed
        sys.path.insert(0, str(ROOT))
    from api.app import create_app
    from infra.settings import Settings

    with tempfile.TemporaryDirectory(prefix="modstream-docs-") as data_dir:
        settings = Settings(
            _env_file=None,
            env="development",
            data_dir=Path(data_dir),
            kafka_bootstrap="127.0.0.1:9",  # required by the factory, never contacted
        )
        app = create_app(settings, run_sink=False)
        document = app.openapi()
    return document, sorted(path for method, path in routes(app.routes) if method == "WS")


def routes(found: Iterable[Any]) -> set[tuple[str, str]]:
    """(method, path) of every route, `WS` for WebSockets, through included routers."""
    seen: set[tuple[str, str]] = set()
    for route in found:
        if hasattr(route, "effective_route_contexts"):
            seen |= routes(route.effective_route_contexts())
        elif getattr(route, "methods", None):
            seen.update((method, route.path) for method in route.methods if method != "HEAD")
        elif isinstance(route, Mount):  # static files (the docs pages' assets)
            continue
        else:  # a WebSocket (its effective context leaves `path` empty)
            seen.add(("WS", route.path or route.original_route.path))
    return seen


# Rendering -----------------------------------------------------------------------------------


def schema_anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def tag_anchor(tag: str) -> str:
    return "tag-" + re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")


def operation_anchor(method: str, path: str) -> str:
    return method + "-" + re.sub(r"[^a-z0-9_]+", "-", path.lower()).strip("-")


def _ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _cell(text: object) -> str:
    """Text fit for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _limits(schema: Schema) -> str:
    parts = []
    for key, shown in (
        ("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"),
        ("exclusiveMaximum", "< {}"), ("minLength", "≥ {} chars"), ("maxLength", "≤ {} chars"),
        ("minItems", "≥ {} items"), ("maxItems", "≤ {} items"),
    ):  # fmt: skip
        if key in schema:
            parts.append(shown.format(schema[key]))
    return f" ({', '.join(parts)})" if parts else ""


def type_of(schema: Schema, link: str = "") -> str:
    """A short, linked description of a schema's type, e.g. ``array of [`Decision`](…)``."""
    name = _ref_name(schema)
    if name:
        return f"[`{name}`]({link}#{schema_anchor(name)})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            shown = " or ".join(type_of(s, link) for s in options)
            if len(options) < len(schema[key]):
                shown += " or null"
            return shown
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    return _container_type(schema, link) or _scalar_type(schema)


def _container_type(schema: Schema, link: str) -> str | None:
    """Arrays, tuples and maps, described by what they hold; None for anything else."""
    kind = schema.get("type")
    if kind == "array" and "prefixItems" in schema:  # a tuple
        return "[" + ", ".join(type_of(item, link) for item in schema["prefixItems"]) + "]"
    if kind == "array":
        items = schema.get("items", {})
        shown = type_of(items, link)
        if len(items.get("anyOf", items.get("oneOf", []))) > 1:
            shown = f"({shown})"
        return "array of " + shown + _limits(schema)
    if kind == "object" or "additionalProperties" in schema or "patternProperties" in schema:
        values = schema.get("additionalProperties")
        if not isinstance(values, dict):
            values = next(iter(schema.get("patternProperties", {}).values()), None)
        return "object" + (f" of {type_of(values, link)}" if values else "") + _limits(schema)
    return None


def _scalar_type(schema: Schema) -> str:
    kind = schema.get("type")
    if isinstance(kind, str):
        fmt = f" ({schema['format']})" if "format" in schema else ""
        return f"{kind}{fmt}{_limits(schema)}"
    return "any"


def _default(schema: Schema) -> str:
    return f"`{json.dumps(schema['default'])}`" if "default" in schema else ""


def _code(value: object) -> list[str]:
    if isinstance(value, str):
        return ["```", value.rstrip("\n"), "```"]
    return ["```json", json.dumps(value, indent=2, ensure_ascii=False), "```"]


def _examples(media: Schema, components: dict[str, Schema]) -> Iterator[tuple[str, object]]:
    """The examples of a request or response body: its own, else its schema's."""
    if "examples" in media:
        for key, example in media["examples"].items():
            yield example.get("summary", key), example.get("value")
    elif "example" in media:
        yield "", media["example"]
    else:
        name = _ref_name(media.get("schema", {}))
        shown = components.get(name, {}) if name else media.get("schema", {})
        for example in shown.get("examples", [])[:1]:
            yield "", example


def _parameters(operation: Schema, link: str) -> list[str]:
    rows = []
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        description = parameter.get("description") or schema.get("description", "")
        rows.append(
            f"| `{parameter['name']}` | {parameter['in']} | {_cell(type_of(schema, link))} | "
            f"{'yes' if parameter.get('required') else 'no'} | {_default(schema)} | "
            f"{_cell(description)} |"
        )
    if not rows:
        return []
    return [
        "**Parameters**", "",
        "| name | in | type | required | default | description |",
        "|---|---|---|---|---|---|",
        *rows, "",
    ]  # fmt: skip


def _request_body(operation: Schema, components: dict[str, Schema], link: str) -> list[str]:
    body = operation.get("requestBody")
    if not body:
        return []
    lines = []
    for content_type, media in body.get("content", {}).items():
        required = "required" if body.get("required") else "optional"
        shown = type_of(media.get("schema", {}), link)
        lines += [f"**Request body** (`{content_type}`, {required}): {shown}", ""]
        for title, value in _examples(media, components):
            lines += [f"Example{': ' + title if title else ''}", "", *_code(value), ""]
    return lines


def _responses(operation: Schema, components: dict[str, Schema], link: str) -> list[str]:
    rows, examples = [], []
    for status, response in operation.get("responses", {}).items():
        bodies = [
            f"`{content_type}` {type_of(media.get('schema', {}), link)}"
            for content_type, media in response.get("content", {}).items()
        ]
        rows.append(
            f"| {status} | {_cell(response.get('description', ''))} | {_cell('; '.join(bodies))} |"
        )
        for content_type, media in response.get("content", {}).items():
            if "example" in media or "examples" in media:
                for title, value in _examples(media, components):
                    label = f"{status} `{content_type}`" + (f": {title}" if title else "")
                    examples += [f"Example response, {label}", "", *_code(value), ""]
    return [
        "**Responses**", "", "| status | description | body |", "|---|---|---|",
        *rows, "", *examples,
    ]  # fmt: skip


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, str, Schema]]:
    """(tag, method, path, operation) in the document's order."""
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                operation = item[method]
                tag = (operation.get("tags") or ["other"])[0]
                yield tag, method, path, operation


def render_operations(document: dict[str, Any], websockets: Iterable[str] = ()) -> str:
    components = document.get("components", {}).get("schemas", {})
    link = "schemas.md"
    by_tag: dict[str, list[tuple[str, str, Schema]]] = {}
    for tag, method, path, operation in _operations(document):
        by_tag.setdefault(tag, []).append((method, path, operation))
    info = document.get("info", {})
    lines = [
        "# API reference",
        "",
        f"{info.get('title', '')} {info.get('version', '')}: {info.get('summary', '')}. "
        "This page is generated from the API's OpenAPI document when the site is built; the "
        f"document itself is [`openapi.json`](../{OPENAPI_FILE}) (a running API serves it at "
        "`/openapi.json`, and an interactive version at `/docs`). How the routes fit together: "
        "[Using the API](../api.md).",
        "",
        info.get("description", "").strip(),
        "",
    ]
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        lines += [f"**Authentication**: `Authorization: Bearer …`. {scheme.get('description', '')}"]
        lines += [""]
    websockets = list(websockets)
    if websockets:
        shown = ", ".join(f"`WS {path}`" for path in websockets)
        lines += [
            f"WebSocket routes are not described by OpenAPI: {shown} (see "
            "[Topics and records](../streaming.md#subscribing-to-verdicts)).",
            "",
        ]
    lines += ["| tag | operations |", "|---|---|"]
    for tag, operations in by_tag.items():
        links = ", ".join(
            f"[`{method.upper()} {_cell(path)}`](#{operation_anchor(method, path)})"
            for method, path, _ in operations
        )
        lines.append(f"| [{tag}](#{tag_anchor(tag)}) | {links} |")
    lines.append("")
    for tag, operations in by_tag.items():
        lines += [f"## {tag.capitalize()} {{#{tag_anchor(tag)}}}", ""]
        for method, path, operation in operations:
            lines += [
                f"### `{method.upper()} {path}` {{#{operation_anchor(method, path)}}}",
                "",
                f"**{operation.get('summary', '').strip()}**",
                "",
            ]
            if operation.get("description"):
                lines += [operation["description"].strip(), ""]
            needs = "a bearer credential" if operation.get("security") else "no credential"
            lines += [f"Needs {needs}.", ""]
            lines += _parameters(operation, link)
            lines += _request_body(operation, components, link)
            lines += _responses(operation, components, link)
    return "\n".join(lines).rstrip() + "\n"


def render_schemas(document: dict[str, Any]) -> str:
    components: dict[str, Schema] = document.get("components", {}).get("schemas", {})
    lines = [
        "# API schemas",
        "",
        "Every schema the [API reference](api.md) names, generated from the same OpenAPI "
        "document. The records on the Kafka topics have JSON Schemas of their own: "
        "`modstream schemas export DIR` writes them.",
        "",
    ]
    for name in sorted(components, key=str.lower):
        schema = components[name]
        lines += [f"## `{name}` {{#{schema_anchor(name)}}}", ""]
        if schema.get("description"):
            lines += [schema["description"].strip(), ""]
        properties: dict[str, Schema] = schema.get("properties", {})
        if properties:
            required = set(schema.get("required", []))
            lines += [
                "| field | type | required | default | description |",
                "|---|---|---|---|---|",
            ]
            for field, spec in properties.items():
                lines.append(
                    f"| `{field}` | {_cell(type_of(spec))} | "
                    f"{'yes' if field in required else 'no'} | {_default(spec)} | "
                    f"{_cell(spec.get('description', ''))} |"
                )
            lines.append("")
        else:
            lines += [f"Type: {type_of(schema)}.", ""]
        for example in schema.get("examples", [])[:1]:
            lines += ["Example", "", *_code(example), ""]
    return "\n".join(lines).rstrip() + "\n"


def render(document: dict[str, Any], websockets: Iterable[str] = ()) -> dict[str, str]:
    """The generated files, by their path in the site."""
    return {
        API_PAGE: render_operations(document, websockets),
        SCHEMAS_PAGE: render_schemas(document),
        OPENAPI_FILE: json.dumps(document, indent=2, ensure_ascii=False) + "\n",
    }


# The mkdocs hook and the command line --------------------------------------------------------


def on_files(files: Files, config: MkDocsConfig) -> Files:
    from mkdocs.structure.files import File

    document, websockets = build_openapi()
    for path, content in render(document, websockets).items():
        files.append(File.generated(config, path, content=content))
    return files


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python docs/api_reference.py DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    document, websockets = build_openapi()
    for path, content in render(document, websockets).items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
