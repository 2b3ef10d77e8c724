"""Sessions on one Model in several threads give the single-threaded results; a long loop of
detections keeps the process's memory flat."""

import threading

import numpy as np
import pytest

from conftest import IMAGES


def test_two_threads_give_single_threaded_results(model):
    # One CPU thread a session, as the reference: results may differ in the last bits
    # between thread counts (the GEMM's partition), never between runs.
    with model.session(backend="cpu", threads=1) as s:
        alone = {name: s.detect(path) for name, path in IMAGES.items()}
    results, errors = {}, []

    def work(t: int) -> None:
        try:
            with model.session(backend="cpu", threads=1) as s:
                for round in range(2):
                    for name, path in IMAGES.items():
                        results[t, round, name] = s.detect(path)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 8
    for (t, round, name), r in results.items():
        assert r.to_coco(name) == alone[name].to_coco(name), (t, round, name)
        assert np.array_equal(r.masks, alone[name].masks)


def test_session_refuses_a_second_thread(model):
    with model.session(backend="cpu") as s:
        with s._lock:  # as another thread inside a call holds it
            with pytest.raises(RuntimeError, match="use one session per thread"):
                s.detect(IMAGES["coffee"])


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


# One Result of coffee.png holds ~0.5 MB of masks: a leak of one per call would grow RSS by
# ~30 MB over the loop's ~60 calls, past the margin; measured: +128 KiB from the 70th call to
# the 120th.
RSS_MARGIN_KIB = 16 * 1024


def test_rss_flat_over_1000_detections(model):
    image = IMAGES["coffee"].read_bytes()  # the longest path: bytes, decode, detect, copy
    with model.session(backend="cpu") as s:
        for _ in range(20):
            s.detect(image).masks
        before = rss_kib()
        detections = calls = 0
        while detections < 1000:
            r = s.detect(image)
            r.masks, r.to_coco(calls)
            detections += len(r)
            calls += 1
        after = rss_kib()
    print(f"RSS {before} KiB -> {after} KiB after {detections} detections in {calls} calls")
    assert after - before <= RSS_MARGIN_KIB
