"""The URL that closes an upload session: its Location as the server gave it, ``digest`` added.

A Location may carry a query of its own (moorage's and the reference implementation's ``_state``, the
session's signed state). httpx's ``params=`` replaces a URL's query rather than adding to it, so a test
that closes a session with ``put(location, params={"digest": ...})`` would drop that state, which real
clients never do."""

from __future__ import annotations

import httpx


def closing_url(location: str, digest: str) -> httpx.URL:
    """``location`` (absolute or relative) with ``digest=`` added to its own query."""
    return httpx.URL(location).copy_merge_params({"digest": digest})
