# A batch worker that keeps every result it ever computed.
# expect: growth function=main line=18 variable=results
import time

CHUNK = 64 * 1024


def compute(n: int) -> bytes:
    return b"r" * CHUNK


def main() -> None:
    results = []
    n = 0
    while True:
        n += 1
        chunk = compute(n)
        results.append(chunk)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
