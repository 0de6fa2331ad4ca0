"""Allow ``python -m acm_sync``."""

from acm_sync.cli import main

raise SystemExit(main())
