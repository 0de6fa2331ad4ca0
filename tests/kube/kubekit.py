"""Typed narrowing for the official `kubernetes` client, shared by the tests that drive it.

The client's annotations are looser (``object`` for custom objects, ``Optional`` metadata on
every model, an unannotated ``new_client_from_config``) or stricter (a model class where its
pydantic ``validate_call`` also takes a plain manifest dict) than what the tests rely on.
These helpers state those facts once, checking them at run time where they can be checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, Protocol, TypedDict, TypeVar, cast

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.models import V1ListMeta, V1ObjectMeta

M = TypeVar("M")


class _HasMetadata(Protocol):
    @property
    def metadata(self) -> V1ObjectMeta | None: ...


class _HasListMetadata(Protocol):
    @property
    def metadata(self) -> V1ListMeta | None: ...


def as_model(model: type[M], manifest: Mapping[str, Any]) -> M:
    """Pass a plain manifest where the client declares ``model``.

    The API methods are wrapped in pydantic's ``validate_call``, which builds the model from a
    dict, so the tests keep writing manifests exactly as a user would (including invalid ones
    the server must reject).
    """
    del model  # only names the type the client declares
    return cast(M, manifest)


def meta(obj: _HasMetadata) -> V1ObjectMeta:
    """The object's metadata, which every object the API server returns has."""
    assert obj.metadata is not None, f"{type(obj).__name__} came back without metadata"
    return obj.metadata


def list_meta(obj: _HasListMetadata) -> V1ListMeta:
    """A list's metadata, which every list the API server returns has."""
    assert obj.metadata is not None, f"{type(obj).__name__} came back without metadata"
    return obj.metadata


def name(obj: _HasMetadata) -> str:
    """The object's name, which every object the API server returns has."""
    value = meta(obj).name
    assert value is not None, "object came back without a name"
    return value


def resource_version(obj: _HasMetadata) -> int:
    """The object's resourceVersion as a number (the emulator's are a cluster-wide counter)."""
    version = meta(obj).resource_version
    assert version is not None, "object came back without a resourceVersion"
    return int(version)


def as_dict(obj: object) -> dict[str, Any]:
    """A custom object (the client annotates these as ``object``) as the JSON dict it is."""
    assert isinstance(obj, dict), f"expected a JSON object, got {type(obj).__name__}"
    return cast(dict[str, Any], obj)


def raw_json(response: object) -> dict[str, Any]:
    """The JSON body of a call made with ``_preload_content=False``.

    Such a call returns the raw ``urllib3`` response, though the method's annotation still
    names the model it would have deserialised.
    """
    assert isinstance(response, urllib3.HTTPResponse), type(response).__name__
    return as_dict(json.loads(response.data))


def new_client(kubeconfig: Path | str) -> client.ApiClient:
    """An API client for the kubeconfig's current context."""
    # The client leaves new_client_from_config unannotated; it returns an ApiClient.
    made = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    assert isinstance(made, client.ApiClient)
    return made


class WatchEvent(TypedDict, Generic[M]):
    """One event from ``watch.Watch().stream``: ``object`` is deserialised into the model."""

    type: str
    object: M
    raw_object: dict[str, Any]


def stream(
    model: type[M], func: Callable[..., object], *args: object, **kwargs: object
) -> Iterator[WatchEvent[M]]:
    """``watch.Watch().stream(func, ...)`` over a list of ``model`` objects, typed.

    The client leaves ``Watch`` unannotated; it deserialises each event's object into the
    model its list call returns items of.
    """
    del model  # only names the type the watch deserialises into
    events = watch.Watch().stream(func, *args, **kwargs)  # type: ignore[no-untyped-call]
    for event in events:
        yield cast(WatchEvent[M], event)


def close(api: client.ApiClient) -> None:
    """Close the client's connection pool (the client leaves ``close`` unannotated)."""
    api.close()  # type: ignore[no-untyped-call]
