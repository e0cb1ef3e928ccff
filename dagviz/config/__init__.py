"""Config schemas for ops and run config: declaration, validation with path-precise errors, defaults.

``Config`` classes (``dagviz.config.pythonic``) are converted to these same types.
"""

from dagviz.config.schema import Any, Array, Enum, Field, Map, Noneable, Permissive, Shape, resolve_config_type

__all__ = ["Any", "Array", "Enum", "Field", "Map", "Noneable", "Permissive", "Shape", "resolve_config_type"]
