"""What ACM's reimport rules need to know of the certificates this process imported or read.

A rotation reimports over the certificate the status records. ACM's reimport rules (key
algorithm, names, key usages) must be checked before the reimport is sent, which used to
cost a GetCertificate per rotation and region. The engine keeps the rules' facts
(:class:`~acm_sync.core.reimport.ReimportProfile`) per content fingerprint instead: one entry
serves every region that holds that content. Bounded (least recently used first out); a
few hundred bytes an entry, no PEM and no key material. After a restart the first rotation of
each object reads its certificate once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from acm_sync.core.reimport import ReimportProfile


class ProfileCache:
    """Thread-safe LRU of fingerprint -> :class:`ReimportProfile`."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(0, capacity)
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, ReimportProfile] = OrderedDict()

    def get(self, fingerprint: str | None) -> ReimportProfile | None:
        """The profile of the content ``fingerprint`` names, if remembered."""
        if fingerprint is None:
            return None
        with self._lock:
            profile = self._entries.get(fingerprint)
            if profile is not None:
                self._entries.move_to_end(fingerprint)
            return profile

    def remember(self, fingerprint: str | None, profile: ReimportProfile | None) -> None:
        """Keep ``profile`` as the one of the content ``fingerprint`` names."""
        if fingerprint is None or profile is None or self._capacity == 0:
            return
        with self._lock:
            self._entries[fingerprint] = profile
            self._entries.move_to_end(fingerprint)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
