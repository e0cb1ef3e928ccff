"""One mapped step per file of a directory, then a summary of them all."""

from __future__ import annotations

from pathlib import Path

from dagviz import DynamicOut, DynamicOutput, Field, job, op
from dagviz.step_keys import sanitize_mapping_key

SAMPLE_DIRECTORY = str(Path(__file__).parent / "sample_data")


@op(
    out=DynamicOut(),
    config_schema={"path": Field(str, default_value=SAMPLE_DIRECTORY, description="Directory to process.")},
)
def files_in_directory(context):
    """Yield one key per file (the cleaned file name) with the file's path as value."""
    directory = Path(context.op_config["path"])
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        yield DynamicOutput(str(path), mapping_key=sanitize_mapping_key(path.name))


@op
def process_file(path: str) -> dict:
    """Count the lines, words and bytes of one file."""
    data = Path(path).read_bytes()
    text = data.decode("utf-8", errors="replace")
    return {"file": Path(path).name, "lines": len(text.splitlines()), "words": len(text.split()), "bytes": len(data)}


@op
def summarize_directory(context, file_stats: list) -> dict:
    """Totals over every file, in the order the files were listed."""
    summary = {
        "files": len(file_stats),
        "lines": sum(stats["lines"] for stats in file_stats),
        "words": sum(stats["words"] for stats in file_stats),
        "bytes": sum(stats["bytes"] for stats in file_stats),
        "names": [stats["file"] for stats in file_stats],
    }
    context.log.info(f"{summary['files']} files, {summary['lines']} lines, {summary['bytes']} bytes")
    return summary


@job(description="Process every file of a directory in its own mapped step, then summarize.")
def process_directory():
    summarize_directory(files_in_directory().map(process_file).collect())
