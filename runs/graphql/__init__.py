"""The GraphQL API: one package per domain (jobs, runs, steps), composed in ``api.py``."""
