"""A Kubernetes API server emulator for tests and the playground (in ``acm-sync-testbed``).

It serves what the operator (kopf and the official client), stock kubectl and Helm use:
discovery (legacy and aggregated), OpenAPI v3, built-in kinds from a table, CRDs as served
resources (structural pruning, defaults, validation, printer columns, short names, status
subresource), watches that resume from any resourceVersion still in the event log (410 Gone
after that), patches (merge, JSON, strategic, server-side apply), finalizers, owner-reference
garbage collection and Status errors with the API server's codes.

Why not kmock: at 0.8 it has no resourceVersion, a watch race that loses events, ignores a
watch's resourceVersion, has no generateName and answers 500 where the API server answers
422; fixing that means leaning on its private internals. Here, one small generic store
(``store.py``: objects, a single resourceVersion counter and a bounded event log) is shared by
every resource type, so each API behaviour is written once, in a module named for it:

- ``resources.py``  the table of served types (built-ins) and the type of a CRD-defined one
- ``store.py``      objects, create/update; ``deletion.py`` finalizers, termination, GC;
                    ``eventlog.py`` the history watches resume from
- ``semantics.py``  per-kind write rules (Secret ``stringData``, Namespace, CRD), name checks
- ``crd.py``        CRD validation, served types, structural schema (prune, default, validate)
- ``patch.py``      merge, JSON and strategic merge patch; server-side apply
- ``selectors.py``  label/field selectors, the JSONPath subset of printer columns
- ``table.py``      ``meta.k8s.io/v1`` Table responses (what ``kubectl get`` prints)
- ``discovery.py``  discovery and OpenAPI documents
- ``protobuf.py``   protobuf request bodies of client-go's typed clients
- ``routing.py``    paths: discovery and OpenAPI documents, or the resource a verb acts on
- ``handlers.py``   the verbs (get, list, watch, create, update, patch, delete)
- ``responses.py``  JSON and ``Status`` answers
- ``watch.py``      watch streams; ``server.py`` ``KubeEmulator`` and its fault hooks

Deliberately left out: authentication and RBAC (every request is allowed), admission webhooks,
CEL validation rules (``x-kubernetes-validations``), conversion between CRD versions (the
``None`` strategy: only ``apiVersion`` changes), field ownership in server-side apply (no
conflicts; fields are merged, never removed by omission), foreground deletion (treated as
background), and controllers (a Deployment never gets Pods).
"""
