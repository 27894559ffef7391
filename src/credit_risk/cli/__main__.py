"""`python -m credit_risk.cli` = the `credit-risk` command."""

import sys

from credit_risk.cli import main

sys.exit(main())
