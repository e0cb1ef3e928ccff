"""Model fields of our own."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models


class CompactUUIDField(models.UUIDField):
    """A UUID kept in 16 bytes on every database: PostgreSQL's ``uuid``, a BLOB on SQLite.

    Django's ``UUIDField`` stores 32 hex characters on SQLite. A run's id is repeated in each of its step and
    event rows and in each index entry over them (nine times a mapped key): 32 bytes there cost ~290 bytes a
    key on disk, 16 bytes half that. Lookups, foreign keys and raw SQL (through ``get_db_prep_value``) take
    and give ``uuid.UUID`` values as before.
    """

    def get_internal_type(self) -> str:
        # Not "UUIDField": SQLite's backend would convert every value read with uuid.UUID(hex), which bytes fail.
        return "CompactUUIDField"

    def db_type(self, connection: Any) -> str:
        return "blob" if connection.vendor == "sqlite" else connection.data_types["UUIDField"]

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "sqlite":
            return super().get_db_prep_value(value, connection, prepared)
        if value is None:
            return None
        return self.to_python(value).bytes

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> uuid.UUID | None:
        return self.to_python(value)

    def to_python(self, value: Any) -> uuid.UUID | None:
        if isinstance(value, (bytes, memoryview)) and len(value) == 16:
            return uuid.UUID(bytes=bytes(value))
        return super().to_python(value)
