"""How the UI's static files are stored once collected: WhiteNoise's compressed, hashed-name storage.

Vendored libraries end with ``sourceMappingURL`` comments naming ``.map`` files that are not
vendored (see ``static/vendor/README.md``); Django's manifest storage would refuse to collect
them, so those comments are left as they are. ES-module imports between the UI's own scripts
are rewritten to hashed names too, so a page never mixes a new script with a cached old one.
Until ``collectstatic`` has written the manifest, pages name the source files, which
WhiteNoise then serves from the source folders (``WHITENOISE_USE_FINDERS``).
"""

from __future__ import annotations

from django.contrib.staticfiles.storage import HashedFilesMixin
from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns: tuple) -> tuple:
    kept = []
    for extension, rules in patterns:
        rules = tuple(rule for rule in rules if "sourceMappingURL" not in str(rule))
        if rules:
            kept.append((extension, rules))
    return tuple(kept)


class UIStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, gzip/brotli-compressed copies of every static file, with a manifest the pages use."""

    # The import rules apply to the UI's own modules only: run over the big vendored bundles,
    # they cost most of the collection time and find nothing to rewrite.
    patterns = _without_source_maps(HashedFilesMixin.patterns) + (
        ("dagviz/*.js", HashedFilesMixin._js_module_import_aggregation_patterns[1]),
    )

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:  # not collected (tests, runserver): the source file under its own name
            return name
        return super().stored_name(name)
