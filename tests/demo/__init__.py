"""The demo tests drive `acm-sync playground` through the playground tests' kit (playkit)."""
