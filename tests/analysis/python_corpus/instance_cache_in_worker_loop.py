# A long-lived worker object whose run() loop keeps a dedup set of every message id it saw.
# expect: growth function=Consumer.handle line=17 variable=self.seen
import time


class Consumer:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def run(self) -> None:
        while True:
            self.handle(f"msg-{time.monotonic_ns()}")
            time.sleep(0.001)

    def handle(self, message_id: str) -> None:
        if message_id not in self.seen:
            self.seen.add(message_id)


if __name__ == "__main__":
    Consumer().run()
