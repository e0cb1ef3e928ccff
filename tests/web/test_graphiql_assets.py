"""GraphiQL at ``GET /graphql`` works offline: every asset comes from our static files.

``templates/graphene/graphiql.html`` overrides graphene-django's template and loads
react, react-dom, graphiql, graphql-ws, whatwg-fetch and the explorer plugin from
``static/vendor/graphiql`` (see its README.md) instead of a CDN.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import graphene
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from graphene_django.views import GraphQLView

TEMPLATE = Path(settings.BASE_DIR) / "templates" / "graphene" / "graphiql.html"
VENDOR_DIR = Path(settings.BASE_DIR) / "static" / "vendor" / "graphiql"
VENDOR_PREFIX = "vendor/graphiql/"
CDN_HOSTS = ("unpkg", "jsdelivr", "cdnjs", "googleapis", "cloudflare", "esm.sh", "skypack")

# Vendored file -> GraphQLView attribute holding graphene-django's pinned SRI for it.
SRI_ATTRIBUTE = {
    "react.production.min.js": "react_sri",
    "react-dom.production.min.js": "react_dom_sri",
    "graphiql.min.js": "graphiql_sri",
    "graphiql.min.css": "graphiql_css_sri",
    "graphql-ws.min.js": "subscriptions_transport_ws_sri",
    "fetch.umd.js": "whatwg_fetch_sri",
    "graphiql-plugin-explorer.umd.js": "graphiql_plugin_explorer_sri",
    "graphiql-plugin-explorer.css": "graphiql_plugin_explorer_css_sri",
}


def _template_static_paths() -> list[str]:
    return re.findall(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""", TEMPLATE.read_text())


def _vendored_names() -> list[str]:
    return [p[len(VENDOR_PREFIX):] for p in _template_static_paths() if p.startswith(VENDOR_PREFIX)]


def _sri(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm, path.read_bytes()).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode()}"


def _assert_offline(html: str) -> None:
    assert "http://" not in html and "https://" not in html
    assert not [host for host in CDN_HOSTS if host in html.lower()]


def test_template_loads_every_vendored_asset_and_graphene_django_graphiql_js() -> None:
    paths = _template_static_paths()
    assert sorted(_vendored_names()) == sorted(SRI_ATTRIBUTE)
    assert "graphene_django/graphiql.js" in paths
    # Everything the page loads goes through {% static %}: no literal src/href left.
    for attribute in re.findall(r"""\b(?:src|href)=["']([^"']*)["']""", TEMPLATE.read_text()):
        assert attribute.startswith("{% static "), attribute


@pytest.mark.parametrize("name", sorted(SRI_ATTRIBUTE))
def test_vendored_file_exists_is_non_trivial_and_is_found_by_staticfiles(name: str) -> None:
    path = VENDOR_DIR / name
    assert path.is_file()
    assert path.stat().st_size > 500
    assert Path(finders.find(VENDOR_PREFIX + name)).resolve() == path.resolve()


def test_graphene_django_graphiql_js_is_served_from_its_app_static() -> None:
    assert finders.find("graphene_django/graphiql.js")


@pytest.mark.parametrize("name", sorted(SRI_ATTRIBUTE))
def test_vendored_file_matches_graphene_django_pinned_integrity_hash(name: str) -> None:
    """The template keeps graphene-django's integrity attributes, so the bytes must match."""
    pinned = getattr(GraphQLView, SRI_ATTRIBUTE[name])
    algorithm = pinned.split("-", 1)[0]
    assert _sri(VENDOR_DIR / name, algorithm) == pinned


@pytest.mark.parametrize("name", [
    "react", "react-dom", "graphiql", "graphql-ws", "whatwg-fetch",
    "graphiql-plugin-explorer", "graphiql-explorer",
])
def test_each_vendored_package_has_its_license(name: str) -> None:
    assert "Permission is hereby granted" in (VENDOR_DIR / f"LICENSE.{name}").read_text()


def test_readme_lists_every_vendored_file_with_the_pinned_versions() -> None:
    readme = (VENDOR_DIR / "README.md").read_text()
    for name in SRI_ATTRIBUTE:
        assert f"`{name}`" in readme
    for version in (GraphQLView.react_version, GraphQLView.graphiql_version,
                    GraphQLView.subscriptions_transport_ws_version, GraphQLView.whatwg_fetch_version,
                    GraphQLView.graphiql_plugin_explorer_version):
        assert version in readme


def test_template_text_has_no_external_url() -> None:
    _assert_offline(TEMPLATE.read_text())


class _Query(graphene.ObjectType):
    ping = graphene.String(default_value="pong")


class _ViewWithSubscriptionPath(GraphQLView):
    """graphene-django 3.2.3 ignores its ``subscription_path`` argument (it only reads
    ``GRAPHENE["SUBSCRIPTION_PATH"]``), so set the attribute after construction."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.subscription_path = "/graphql"


def test_graphene_view_renders_the_override_with_local_assets_and_subscription_path() -> None:
    """Independent of the project's routes: graphene-django's view picks up our template."""
    view = _ViewWithSubscriptionPath.as_view(schema=graphene.Schema(query=_Query), graphiql=True)
    response = view(RequestFactory().get("/graphql", HTTP_ACCEPT="text/html"))
    html = response.content.decode()
    assert response.status_code == 200
    _assert_offline(html)
    for name, attribute in SRI_ATTRIBUTE.items():
        assert f'"{settings.STATIC_URL}{VENDOR_PREFIX}{name}"' in html
        assert f'integrity="{getattr(GraphQLView, attribute)}"' in html
    assert f"{settings.STATIC_URL}graphene_django/graphiql.js" in html
    assert 'subscriptionPath: "/graphql"' in html
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.django_db
def test_get_graphql_as_html_serves_graphiql_with_local_assets_only() -> None:
    response = Client().get("/graphql", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{settings.STATIC_URL}{VENDOR_PREFIX}" in html
    for name in SRI_ATTRIBUTE:
        assert f"{settings.STATIC_URL}{VENDOR_PREFIX}{name}" in html
    assert f"{settings.STATIC_URL}graphene_django/graphiql.js" in html
    # graphene-django's graphiql.js opens the graphql-transport-ws socket on this path.
    assert 'subscriptionPath: "/graphql"' in html
    _assert_offline(html)
