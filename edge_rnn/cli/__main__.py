"""`python -m edge_rnn.cli ...` (what torchrun starts) is `edge-rnn ...`."""

import sys

from edge_rnn.cli import main

sys.exit(main())
