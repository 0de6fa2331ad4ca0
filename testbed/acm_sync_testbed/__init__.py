"""acm-sync-testbed: the emulators, playground and demo that exercise acm-sync without a cluster.

A separate distribution from the operator, so the operator's image carries none of it (nor
moto and werkzeug). Installing it adds ``acm-sync playground`` and ``acm-sync demo`` through
the ``acm_sync.commands`` entry point group.
"""
