# ML pre-processing: every batch's features are kept "for the epoch summary" that never comes.
# expect: growth function=run line=16 variable=features
import time

import numpy as np

BATCH = 256
WIDTH = 1024


def run() -> None:
    features = []
    while True:
        batch = np.zeros((BATCH, WIDTH), dtype=np.float32)
        batch += 1.0
        features.append(batch)
        time.sleep(0.5)
