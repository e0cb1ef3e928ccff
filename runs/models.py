"""Database models for runs, their steps and their events (none defined yet)."""
