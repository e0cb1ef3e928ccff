"""ASGI entry point (daphne): plain HTTP now, websocket routes join the router later.

Django is set up by ``get_asgi_application()`` before anything that imports
models (consumers, routing), otherwise those imports fail with AppRegistryNotReady.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dagviz.settings")

django_asgi_app = get_asgi_application()

# Imported after setup, like the websocket routes that will join the router.
from channels.routing import ProtocolTypeRouter  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
    }
)
