"""Tests that pin Dagster 1.13's observed behaviour for the parts of its API dagviz shares."""
