"""Config schemas for ops and run config: declaration, validation with path-precise errors, defaults."""

from dagviz.config.schema import Any, Array, Field, Noneable, Permissive, Shape, resolve_config_type

__all__ = ["Any", "Array", "Field", "Noneable", "Permissive", "Shape", "resolve_config_type"]
