"""Load test of the yolact Triton backend: a real tritonserver on loopback (the example
model repository, CPU instance), C clients sending the parity images (raw BGR, the two
sizes alternating) back to back for a fixed time at each concurrency; reports throughput
and latency percentiles, counts failures, writes bench/results/triton-load.{json,csv} and
plots latency against concurrency (bench/results/triton-load.png).

    make triton-bench          # 1, 2, 4, 8 clients x 30 s each
    python bench/triton_load.py --build build --clients 1,2,4,8 --seconds 30

Runs with the Python of the Triton venv (make triton-bench makes it, matplotlib added).
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import tritonclient.http as httpclient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "triton"))
import server_process  # noqa: E402
import serving  # noqa: E402

RESULTS = os.path.join(HERE, "results")


def client_loop(url, inputs, stop_at, latencies, failures, lock):
    """One client: requests back to back until stop_at, each one's latency in ms."""
    client = httpclient.InferenceServerClient(url, connection_timeout=600, network_timeout=600)
    outputs = serving.requested_outputs(httpclient)
    i = 0
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            result = client.infer(serving.MODEL, inputs[i % len(inputs)], outputs=outputs)
            ok = result.as_numpy("COUNT") is not None
        except Exception:  # a failed request is counted, never hidden
            ok = False
        elapsed = (time.monotonic() - started) * 1e3
        with lock:
            (latencies if ok else failures).append(elapsed)
        i += 1
    client.close()


def run_level(server, clients, seconds):
    inputs = [serving.make_inputs(httpclient, "raw", image) for image in serving.IMAGES]
    latencies, failures, lock = [], [], threading.Lock()
    before = server_statistics(server)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        jobs = [pool.submit(client_loop, server.http_url, inputs, started + seconds,
                            latencies, failures, lock) for _ in range(clients)]
        for job in jobs:
            job.result()
    elapsed = time.monotonic() - started
    inferences, executions = (a - b for a, b in zip(server_statistics(server), before))
    ms = np.array(latencies)
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": len(latencies),
            "failed": len(failures), "throughput_per_s": round(len(latencies) / elapsed, 3),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "server_inferences": inferences, "server_executions": executions,
            "mean_batch": round(inferences / executions, 2) if executions else 0}


def server_statistics(server):
    client = httpclient.InferenceServerClient(server.http_url)
    stats = client.get_inference_statistics(serving.MODEL)["model_stats"][0]
    client.close()
    return int(stats["inference_count"]), int(stats["execution_count"])


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "commit": commit,
            "load_average_before": os.getloadavg(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def plot(levels, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    clients = [level["clients"] for level in levels]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        ax.plot(clients, [level[key] for level in levels], marker="o", label=key[:-3])
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("latency (ms)")
    ax.set_xticks(clients)
    ax.set_title("yolact on Triton (CPU instance, parity network, loopback HTTP)")
    ax2 = ax.twinx()
    ax2.plot(clients, [level["throughput_per_s"] for level in levels], "k--", marker="s",
             label="images/s")
    ax2.set_ylabel("throughput (images/s)")
    ax2.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--clients", default="1,2,4,8", help="concurrency levels")
    parser.add_argument("--seconds", type=float, default=30, help="per level")
    parser.add_argument("--out", default=os.path.join(RESULTS, "triton-load"),
                        help="path stem of the .json, .csv and .png written")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    log = os.path.join(tempfile.mkdtemp(prefix="yolact-triton-load-"), "tritonserver.log")
    info = machine()
    server = server_process.Server(os.path.join(args.build, "triton", "backends"), log)
    try:
        server.wait_ready()
        run_level(server, 1, 3)  # warm-up: the first CPU session's weight layout, caches
        results = []
        for clients in levels:
            result = run_level(server, clients, args.seconds)
            print(f"{clients} clients: {result['throughput_per_s']} images/s, p50 "
                  f"{result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} "
                  f"ms, {result['failed']} failed of {result['requests'] + result['failed']}, "
                  f"mean batch {result['mean_batch']}", flush=True)
            results.append(result)
    finally:
        status = server.stop()
    failed = sum(r["failed"] for r in results)
    report = {"machine": info, "server": "tritonserver 2.51 (nvidia-pytriton 0.5.14)",
              "model": "examples/triton/model_repository/yolact (parity checkpoint, KIND_CPU "
                       "x1, max_batch_size 8, dynamic batching)",
              "images": [os.path.basename(p) for p in serving.IMAGES], "protocol": "HTTP",
              "server_exit_status": status, "levels": results}
    with open(args.out + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(args.out + ".csv", "w") as f:
        keys = list(results[0])
        f.write(",".join(keys) + "\n")
        for r in results:
            f.write(",".join(str(r[k]) for k in keys) + "\n")
    plot(results, args.out + ".png")
    print(f"wrote {args.out}.json, .csv, .png")
    if failed or status != 0:
        raise SystemExit(f"{failed} requests failed; server exit status {status}")


if __name__ == "__main__":
    main()
