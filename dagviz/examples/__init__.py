"""Example jobs, and the default workspace (``DAGVIZ_WORKSPACE=dagviz.examples``)."""

from dagviz.examples.big_fanout import big_fanout
from dagviz.examples.flaky_fanout import flaky_fanout
from dagviz.examples.import_uploads import import_uploads
from dagviz.examples.nested_fanout import nested_fanout
from dagviz.examples.process_directory import process_directory
from dagviz.examples.streaming_fanout import streaming_fanout
from dagviz.examples.tolerant_import import tolerant_import
from dagviz.examples.word_report import long_words_report

__all__ = ["big_fanout", "flaky_fanout", "import_uploads", "long_words_report", "nested_fanout", "process_directory",
           "streaming_fanout", "tolerant_import"]
