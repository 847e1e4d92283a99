# Bounded on every path: an LRU with eviction, a deque with maxlen, a bounded lru_cache,
# a request-scoped dict and a queue with a consumer. No finding.
# expect: none
import collections
import functools
import queue
import threading
import time

MAX_SESSIONS = 1000
_sessions: collections.OrderedDict[str, bytes] = collections.OrderedDict()
_recent = collections.deque(maxlen=100)
_jobs: queue.Queue[str] = queue.Queue()


@functools.lru_cache(maxsize=256)
def lookup(user_id: int) -> str:
    return str(user_id) * 100


def remember(session_id: str, data: bytes) -> None:
    _sessions[session_id] = data
    if len(_sessions) > MAX_SESSIONS:
        _sessions.popitem(last=False)


def consume() -> None:
    while True:
        _jobs.get()
        _jobs.task_done()


def main() -> None:
    threading.Thread(target=consume, daemon=True).start()
    n = 0
    while True:
        n += 1
        per_request: dict[str, str] = {}
        per_request[str(n)] = lookup(n)
        remember(f"s{n}", b"x" * 100)
        _recent.append(n)
        _jobs.put(f"job-{n}")
        time.sleep(0.01)


if __name__ == "__main__":
    main()


def parse(tokens: list[str]) -> dict[str, str]:
    """A loop that ends hands its result on, and a worklist drains: neither grows."""
    found: dict[str, str] = {}
    while True:
        token = tokens.pop()
        if token == "end":
            break
        found[token] = token
    seen = []
    stack = [tokens]
    while stack:
        node = stack.pop()
        seen.append(node)
    return found
