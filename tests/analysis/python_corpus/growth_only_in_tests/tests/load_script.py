# A load script under tests/: it grows, but it is not what was OOM-killed.
# expect: out-of-scope function=main line=9 variable=samples
import time


def main() -> None:
    samples = []
    while True:
        samples.append(b"s" * 4096)
        time.sleep(0.001)
