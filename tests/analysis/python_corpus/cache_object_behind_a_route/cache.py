# A cache object whose put() never evicts, used through a module-level instance.
# expect: growth function=PageCache.put line=10 variable=self.entries


class PageCache:
    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}

    def put(self, key: str, body: bytes) -> None:
        self.entries[key] = body

    def get(self, key: str) -> bytes | None:
        return self.entries.get(key)


PAGES = PageCache()
