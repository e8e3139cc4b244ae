"""`python -m d365conn.sandbox`: the same as `d365conn sandbox`."""

from __future__ import annotations

import sys

from d365conn.sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
