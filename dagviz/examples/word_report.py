"""The most common long words of a set of documents: a resource that reads them and a ``Config`` class.

Written exactly as a Dagster job would be (only the import differs): the documents come from a
``ConfigurableResource`` set up once per process per run, and the report's knobs are a Pythonic
``Config`` class, so the launchpad shows them with their defaults.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from dagviz import Config, ConfigurableResource, DynamicOut, DynamicOutput, job, op
from dagviz.examples.process_directory import SAMPLE_DIRECTORY
from dagviz.step_keys import sanitize_mapping_key


class DocumentLibrary(ConfigurableResource):
    """Text documents in a directory."""

    directory: str = SAMPLE_DIRECTORY

    def names(self) -> list[str]:
        return sorted(path.name for path in Path(self.directory).iterdir() if path.is_file())

    def read(self, name: str) -> str:
        return (Path(self.directory) / name).read_text(encoding="utf-8", errors="replace")


class ReportConfig(Config):
    """What counts as a long word, and how many of them the report lists."""

    min_length: int = 5
    top: int = 5


@op(out=DynamicOut())
def documents(library: DocumentLibrary):
    """One key per document of the library."""
    for name in library.names():
        yield DynamicOutput(name, mapping_key=sanitize_mapping_key(name))


@op
def long_words(config: ReportConfig, library: DocumentLibrary, name: str) -> dict:
    """The words of one document that are at least ``min_length`` letters long."""
    words = (word.strip(".,;:!?()[]\"'").lower() for word in library.read(name).split())
    return {"document": name, "words": [word for word in words if len(word) >= config.min_length]}


@op
def word_report(context, config: ReportConfig, per_document: list) -> dict:
    """The ``top`` most common long words over every document."""
    counts = Counter(word for document in per_document for word in document["words"])
    context.add_output_metadata({"documents": len(per_document), "distinct_words": len(counts)})
    return {"documents": [document["document"] for document in per_document], "top": counts.most_common(config.top)}


@job(description="Count the long words of every document (a resource and a Config class).",
     resource_defs={"library": DocumentLibrary()})
def long_words_report():
    word_report(documents().map(long_words).collect())
