"""OAuth2 tokens of PSP connections shared by the clients of one process.

A :class:`~.pix_api.PixClient` caches its token for its own lifetime; a client is built for
each piece of work (its certificate files live only that long), so the token is kept here,
per process, under a key that changes whenever the connection's credentials change (the
record's id and a digest of its URLs, credentials and certificate): new credentials never
reuse an old token.

Why in memory and not in the database: a token is a bearer secret valid for minutes; in a
column it would be written on every refresh from inside business transactions (two workers
refreshing at once would conflict, and a rolled-back transaction would lose a token the PSP
did issue), and it would end up in backups. Per process it costs at most one token request
per worker and token lifetime, and a token the PSP stopped accepting is fetched again once
(the client does that on a 401).
"""

import threading

from .pix_api import PixClient


class TokenCache:
    """``key -> (token, expiry)``; ``expiry`` on the clients' clock (``time.monotonic``).

    A key is ``(database, connection id, version)``: storing a version drops the other
    versions of the same connection (the token of credentials replaced since).
    """

    def __init__(self):
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self._entries.get(key)

    def put(self, key, token, expiry):
        with self._lock:
            for other in [k for k in self._entries if k[:2] == key[:2] and k != key]:
                del self._entries[other]
            if token:
                self._entries[key] = (token, expiry)
            else:
                self._entries.pop(key, None)

    def drop(self, key):
        with self._lock:
            self._entries.pop(key, None)

    def clear(self):
        with self._lock:
            self._entries.clear()


class CachedTokenClient(PixClient):
    """A :class:`PixClient` whose token comes from, and goes back to, a :class:`TokenCache`."""

    def __init__(self, connection, cache, key, **kwargs):
        super().__init__(connection, **kwargs)
        self._cache = cache
        self._cache_key = key
        self._take_cached()

    def _take_cached(self):
        cached = self._cache.get(self._cache_key)
        if cached:
            self._token, self._token_expiry = cached

    def access_token(self, force=False):
        if not force:
            self._take_cached()  # another client may have fetched one since
        token = super().access_token(force=force)
        self._cache.put(self._cache_key, self._token, self._token_expiry)
        return token

    def _invalidate_token(self, token):
        super()._invalidate_token(token)
        cached = self._cache.get(self._cache_key)
        if cached and cached[0] == token:
            self._cache.drop(self._cache_key)
