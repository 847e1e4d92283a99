# The service itself keeps nothing between iterations.
# expect: none
import time


def serve_forever() -> None:
    while True:
        batch = [b"x" * 1024 for _ in range(10)]
        print(len(batch))
        time.sleep(0.1)
