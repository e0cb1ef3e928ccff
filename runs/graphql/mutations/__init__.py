"""Mutations: thin wrappers that call a service and turn its typed errors into union members."""
