"""Tests only a real API server can answer: RBAC, CEL and OpenAPI validation, Pod Security
admission, garbage collection, cert-manager, and the real Helm and promtool binaries."""
