"""``python -m signing.verify BUNDLE.zip``: the command that issued bundles name (see ``core.verifier``)."""

from __future__ import annotations

import sys

from .core.verifier import main

if __name__ == "__main__":
    sys.exit(main())
