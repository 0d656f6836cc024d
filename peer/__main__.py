"""`python -m peer` is `quibble`."""

import sys

from peer.cli import main

sys.exit(main())
