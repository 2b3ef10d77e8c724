"""Images per second of one session against N sessions of one Model in N Python threads,
each session on one CPU thread: the GIL is released during detection, so the rate should
scale with the cores (issue 24 asks for >= 1.6x with two threads on two cores).

    python3 python/benchmarks/threads.py [WEIGHTS PRESET IMAGE] [--threads N] [--seconds S]
"""

import argparse
import threading
import time
from pathlib import Path

import yolact

PARITY = Path(__file__).resolve().parents[2] / "test" / "data" / "parity"


def rate(model: yolact.Model, image: str, threads: int, seconds: float) -> float:
    sessions = [model.session(backend="cpu", threads=1) for _ in range(threads)]
    for s in sessions:
        s.detect(image)  # warm-up: buffers grown, weights converted
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(i: int) -> None:
        while time.perf_counter() < deadline:
            sessions[i].detect(image)
            counts[i] += 1

    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    for s in sessions:
        s.close()
    return sum(counts) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="?", default=str(PARITY / "yolact_tiny_seed1_fp16_zip.pth"))
    ap.add_argument("preset", nargs="?", default="yolact_resnet50")
    ap.add_argument("image", nargs="?", default=str(PARITY / "coffee.png"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    model = yolact.Model(a.weights, preset=a.preset)
    one = rate(model, a.image, 1, a.seconds)
    many = rate(model, a.image, a.threads, a.seconds)
    print(f"1 thread: {one:.2f} images/s; {a.threads} threads: {many:.2f} images/s "
          f"({many / one:.2f}x)")


if __name__ == "__main__":
    main()
