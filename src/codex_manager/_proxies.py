"""Whether the environment sends traffic for a URL through a proxy.

The SDK takes shorter roads (the tool-call answer's direct road, the sync stream reading its
own socket) only where no proxy could be involved; where one applies, httpx and websockets
connect through it as they always do.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

_OWN_VARIABLE = {"ws": "ws", "wss": "wss"}
"""``WS_PROXY``/``WSS_PROXY``, which name a proxy for websockets alone, come first for them."""
_HTTP_SCHEME = {"ws": "http", "wss": "https"}
"""A websocket URL is routed as its HTTP counterpart, as the REST calls to the server are."""


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url``, or ``None`` to connect directly.

    Chosen as httpx chooses for the REST calls, so that the stream and REST take one road:
    ``HTTP_PROXY`` for ``http://``/``ws://``, ``HTTPS_PROXY`` for ``https://``/``wss://``,
    else ``ALL_PROXY``, unless ``NO_PROXY`` exempts the host; ``WS_PROXY``/``WSS_PROXY``
    first for websocket URLs. (websockets alone would take ``HTTPS_PROXY`` for ``ws://`` and
    ignore ``ALL_PROXY``; aiohttp would read ``WS_PROXY`` only.)
    """
    proxies = urllib.request.getproxies()
    if not proxies:
        return None
    parts = urlsplit(url)
    own = _OWN_VARIABLE.get(parts.scheme)
    chosen = (
        (proxies.get(own) if own else None)
        or proxies.get(_HTTP_SCHEME.get(parts.scheme, parts.scheme))
        or proxies.get("all")
    )
    if not chosen or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    # "proxy:3128" means http://proxy:3128 to httpx; websockets would refuse it.
    return chosen if "://" in chosen else f"http://{chosen}"


def proxy_applies(url: str) -> bool:
    """Whether the environment (``HTTP_PROXY`` and the like) routes ``url`` through a proxy.

    ``NO_PROXY`` alone, or a proxy for another scheme (``FTP_PROXY``), does not.
    """
    return environment_proxy(url) is not None


__all__ = ["environment_proxy", "proxy_applies"]
