"""acm-sync: keep Kubernetes TLS Secrets imported into AWS Certificate Manager."""

__version__ = "0.1.0"
