"""Definitions: ops, graphs, jobs, their composition, config types, resources and Definitions."""
