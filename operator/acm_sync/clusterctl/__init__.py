"""``acm-sync status`` and ``acm-sync resync``: commands for people, on any kubeconfig.

They talk to the Kubernetes API only (never to AWS): what the operator recorded, and a request
for it to look again. Imported only when one of them runs (see cli.py).
"""
