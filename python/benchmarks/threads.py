"""Images per second of one session against N sessions of one Model in N Python threads, and
against N processes (one session each: no shared GIL, model or library state), each session
on one CPU thread. The GIL is released during detection, so on free cores the rate should
scale with them (issue 24 asks for >= 1.6x with two threads on two cores).

On a machine other jobs load, a rate alone cannot tell a lock from a busy CPU, so each
phase also says where its workers' time went (the kernel's /proc/thread-self/schedstat):
on a CPU, waiting in the run queue for one (other work had it), or blocked (sleeping: a
lock, the GIL, I/O). Serialised workers show as blocked time; a busy machine as run-queue
time, with the load average and CPU count printed beside it. Where the kernel groups
processes by session (sched_autogroup), the CPUs are shared fairly between the busy
sessions, not threads: the benchmark's threads get its session's share together, which the
"CPUs in all" column shows (the same figure for 1 and 2 threads means that share was the
limit).

    python3 python/benchmarks/threads.py [WEIGHTS PRESET IMAGE] [--threads N] [--seconds S]
"""

import argparse
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import List, Tuple

import yolact

PARITY = Path(__file__).resolve().parents[2] / "test" / "data" / "parity"


def schedstat() -> Tuple[float, float]:
    """This thread's seconds on a CPU and waiting in the run queue, so far."""
    with open("/proc/thread-self/schedstat") as f:
        on_cpu, waiting = f.read().split()[:2]
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def worker(session: yolact.Session, image: str, start: float, deadline: float,
           out: list) -> None:
    """Detect until the deadline; append (images, wall s, on-CPU s, run-queue s)."""
    while time.perf_counter() < start:
        pass
    cpu0, wait0 = schedstat()
    t0, count = time.perf_counter(), 0
    while time.perf_counter() < deadline:
        session.detect(image)
        count += 1
    cpu1, wait1 = schedstat()
    out.append((count, time.perf_counter() - t0, cpu1 - cpu0, wait1 - wait0))


def open_session(weights: str, preset: str, image: str) -> yolact.Session:
    session = yolact.Model(weights, preset=preset).session(backend="cpu", threads=1)
    session.detect(image)  # warm-up: buffers grown, weights converted
    return session


def threads_phase(a: argparse.Namespace, n: int) -> List[tuple]:
    model = yolact.Model(a.weights, preset=a.preset)
    sessions = [model.session(backend="cpu", threads=1) for _ in range(n)]
    for s in sessions:
        s.detect(a.image)
    out: List[tuple] = []
    start = time.perf_counter() + 0.2
    workers = [threading.Thread(target=worker, args=(s, a.image, start, start + a.seconds,
                                                     out)) for s in sessions]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for s in sessions:
        s.close()
    return out


def process_main(a: argparse.Namespace, ready, go, results) -> None:
    session = open_session(a.weights, a.preset, a.image)
    ready.put(None)
    start = go.get()
    out: List[tuple] = []
    worker(session, a.image, start, start + a.seconds, out)
    results.put(out[0])


def processes_phase(a: argparse.Namespace, n: int) -> List[tuple]:
    ctx = multiprocessing.get_context("fork")
    ready, go, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=process_main, args=(a, ready, go, results)) for _ in range(n)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    start = time.perf_counter() + 0.2  # CLOCK_MONOTONIC: the same clock in every process
    for _ in procs:
        go.put(start)
    out = [results.get() for _ in procs]
    for p in procs:
        p.join()
    return out


def report(name: str, out: List[tuple]) -> float:
    images = sum(o[0] for o in out)
    wall = max(o[1] for o in out)
    rate = images / wall
    cpu = sum(o[2] for o in out) / sum(o[1] for o in out)
    queued = sum(o[3] for o in out) / sum(o[1] for o in out)
    print(f"{name:12s} {rate:6.2f} images/s; each worker on a CPU {cpu:4.0%}, waiting for "
          f"one {queued:4.0%}, blocked {max(0.0, 1 - cpu - queued):4.0%}; "
          f"{sum(o[2] for o in out) / wall:.2f} CPUs in all, "
          f"{sum(o[2] for o in out) / images:.3f} CPU s an image", flush=True)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="?", default=str(PARITY / "yolact_tiny_seed1_fp16_zip.pth"))
    ap.add_argument("preset", nargs="?", default="yolact_resnet50")
    ap.add_argument("image", nargs="?", default=str(PARITY / "coffee.png"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            autogroup = "on" if f.read().strip() == "1" else "off"
    except OSError:
        autogroup = "unknown"
    print(f"{os.cpu_count()} CPUs, load average {load} (1/5/15 min) before, sched_autogroup "
          f"{autogroup}", flush=True)
    one = report("1 thread", threads_phase(a, 1))
    many = report(f"{a.threads} threads", threads_phase(a, a.threads))
    procs = report(f"{a.threads} processes", processes_phase(a, a.threads))
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{a.threads} threads {many / one:.2f}x one thread, {a.threads} processes "
          f"{procs / one:.2f}x; load average {load} after", flush=True)


if __name__ == "__main__":
    main()
