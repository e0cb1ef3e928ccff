"""ASGI entry point (daphne): Django over HTTP, GraphQL subscriptions over websockets at /graphql.

Django is set up by ``get_asgi_application()`` before anything that imports models
(consumers, routing), otherwise those imports fail with AppRegistryNotReady.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dagviz.server.settings")

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from runs.live.consumer import GraphQLWSConsumer  # noqa: E402
from runs.live.origin import BrowserOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files (the UI's scripts, vendored libraries) are served by WhiteNoise's middleware.
        "http": django_asgi_app,
        # Origin first, so another site's page is refused before its cookies are looked at; then the
        # session's user (the browser UI signs in with cookies), which connection_init may replace by a token's.
        "websocket": BrowserOriginValidator(
            AuthMiddlewareStack(URLRouter([path("graphql", GraphQLWSConsumer.as_asgi())]))),
    }
)
