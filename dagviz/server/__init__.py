"""The Django project that serves dagviz: settings, URLs, the ASGI/WSGI applications and the server commands.

The only part of the ``dagviz`` package that imports Django (and the ``runs`` app): the job API
and the engine beside it stay importable without either.
"""
