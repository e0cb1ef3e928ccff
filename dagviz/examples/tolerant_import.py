"""The uploads import again, with a collect that tolerates a few bad files (``min_success_ratio``).

Thirteen of the sixty uploads fail in the first run (see ``import_uploads``). A plain collect would
skip the report; this one runs it on the 47 files that imported, because at least 75% of the keys
succeeded, and the run ends SUCCESS with "13 tolerated failures". Re-executing its failed keys
imports those files and runs the report again over all sixty.
"""

from __future__ import annotations

from dagviz import job
from dagviz.examples.import_uploads import import_upload, list_uploads, report_imports


@job(description="The 60 uploads, reported as soon as at least 75% of them import: a few bad files do not block "
                 "the report, and the run shows how many failures it tolerated.")
def tolerant_import():
    report_imports(list_uploads().map(import_upload).collect(min_success_ratio=0.75))
