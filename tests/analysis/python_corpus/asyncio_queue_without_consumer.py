# An asyncio service that queues every event for a consumer nobody starts any more.
# expect: growth function=pump line=14 variable=EVENTS
import asyncio

EVENTS: asyncio.Queue[bytes] = asyncio.Queue()


async def read_event() -> bytes:
    return b"e" * 2048


async def pump() -> None:
    while True:
        await EVENTS.put(await read_event())
        await asyncio.sleep(0.01)


async def main() -> None:
    await pump()
