"""``python -m dagviz``: the same as the ``dagviz`` command."""

import sys

from dagviz.cli import main

if __name__ == "__main__":
    sys.exit(main())
