"""Whether the environment sends traffic for a URL through a proxy.

The SDK takes shorter roads (the tool-call answer's direct road, the sync stream reading its
own socket) only where no proxy could be involved; where one applies, httpx and websockets
connect through it as they always do.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit


def proxy_applies(url: str) -> bool:
    """Whether the environment (``HTTP_PROXY`` and the like) routes ``url`` through a proxy.

    Read from the same variables httpx and websockets read, with ``NO_PROXY`` honoured.
    """
    proxies = urllib.request.getproxies()
    if not proxies:
        return False
    host = urlsplit(url).hostname or ""
    return not urllib.request.proxy_bypass(host)


__all__ = ["proxy_applies"]
