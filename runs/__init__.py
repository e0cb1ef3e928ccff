"""Django app that stores runs and their events and serves them to the web UI."""
