"""Example jobs, and the default workspace (``DAGVIZ_WORKSPACE=dagviz.examples``)."""

from dagviz.examples.big_fanout import big_fanout
from dagviz.examples.flaky_fanout import flaky_fanout
from dagviz.examples.nested_fanout import nested_fanout
from dagviz.examples.process_directory import process_directory
from dagviz.examples.streaming_fanout import streaming_fanout
from dagviz.examples.word_report import long_words_report

__all__ = ["big_fanout", "flaky_fanout", "long_words_report", "nested_fanout", "process_directory", "streaming_fanout"]
