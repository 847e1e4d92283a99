"""py-pages-service worker: renders pages for a stream of requests, with a page cache.

KNOWN ISSUE (on purpose, this is the Python service ADS is demonstrated on): render_page()
caches every page it renders and nothing evicts from the cache any more, so memory grows with
every new page id until the container is OOMKilled at its 64Mi limit.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict

PAGE_KB = 512
MAX_CACHED_PAGES = 16
REQUEST_DELAY_S = 0.02

_pages: OrderedDict[str, bytes] = OrderedDict()


def render_page(page_id: str) -> bytes:
    """The page's body, rendered once and then served from the cache."""
    cached = _pages.get(page_id)
    if cached is not None:
        _pages.move_to_end(page_id)
        return cached
    body = page_id.encode().ljust(PAGE_KB * 1024, b".")
    _pages[page_id] = body
    return body


def controller() -> None:
    """The worker's load loop: one request per iteration, each for a new page id."""
    for request in itertools.count(1):
        page = render_page(f"user-{request}")
        if request % 10 == 0:
            print(f"worker: request {request} served {len(page)} bytes", flush=True)
        time.sleep(REQUEST_DELAY_S)


if __name__ == "__main__":
    print(f"worker: starting, {PAGE_KB} KiB pages every {REQUEST_DELAY_S * 1000:.0f} ms", flush=True)
    controller()
