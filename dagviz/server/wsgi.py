"""WSGI entry point, for servers without websockets (the UI's live updates need ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dagviz.server.settings")

application = get_wsgi_application()
