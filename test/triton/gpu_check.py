"""The yolact Triton backend on a GPU instance (KIND_GPU: the CUDA backend on the instance's
device), for test/gpu_session.sh on a lent GPU machine, which has no package registry: the
standard library only, the server carried (make triton-gpu-deps), requests in the HTTP/REST
protocol's binary tensor form sent with urllib.

    python3 test/triton/gpu_check.py --build build --tritonserver DIR/tritonserver

Serves the parity checkpoint from a copy of the example repository with KIND_GPU, sends both
parity images as IMAGE_BYTES and requires yolact-detect --backend cuda's detections
(category ids, scores, truncated boxes, RLE); then 32 concurrent requests, all right, in
fewer executions than requests; then a clean exit on SIGTERM. Exits 1 on a failure.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_process  # noqa: E402

PARITY = os.path.join(server_process.ROOT, "test", "data", "parity")
WEIGHTS = os.path.join(PARITY, "yolact_tiny_seed1_fp16_zip.pth")
IMAGES = [os.path.join(PARITY, name) for name in ("coffee.png", "astronaut.png")]
OUTPUTS = ["COUNT", "CATEGORY_IDS", "SCORES", "BOXES", "MASKS_RLE"]
CONCURRENT = 32


def repository(work, kind):
    """The example repository with instances of kind and the checkpoint by absolute path."""
    model = os.path.join(work, "repository", server_process.MODEL)
    os.makedirs(os.path.join(model, "1"))
    with open(os.path.join(server_process.REPOSITORY, server_process.MODEL,
                           "config.pbtxt")) as f:
        config = f.read()
    if "kind: KIND_CPU" not in config:
        raise SystemExit("the example config has no KIND_CPU instance group to switch")
    with open(os.path.join(model, "config.pbtxt"), "w") as f:
        f.write(config.replace("kind: KIND_CPU", f"kind: {kind}"))
    os.symlink(WEIGHTS, os.path.join(model, "1", "model.pth"))
    return os.path.dirname(model)


def float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def infer(url, image_path):
    """One IMAGE_BYTES request, every output asked for as binary data; the detections in
    yolact-detect -o's terms."""
    with open(image_path, "rb") as f:
        element = struct.pack("<I", os.path.getsize(image_path)) + f.read()
    header = json.dumps({
        "inputs": [{"name": "IMAGE_BYTES", "shape": [1, 1], "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(element)}}],
        "outputs": [{"name": n, "parameters": {"binary_data": True}} for n in OUTPUTS],
    }).encode()
    request = urllib.request.Request(
        f"http://{url}/v2/models/{server_process.MODEL}/infer", data=header + element,
        headers={"Content-Type": "application/octet-stream",
                 "Inference-Header-Content-Length": str(len(header))})
    with urllib.request.urlopen(request, timeout=300) as reply:
        body = reply.read()
        length = int(reply.headers["Inference-Header-Content-Length"])
    outputs, offset = {}, length
    for output in json.loads(body[:length])["outputs"]:
        size = output["parameters"]["binary_data_size"]
        outputs[output["name"]] = body[offset:offset + size]
        offset += size
    count = struct.unpack("<i", outputs["COUNT"])[0]
    ids = struct.unpack(f"<{count}i", outputs["CATEGORY_IDS"])
    scores = struct.unpack(f"<{count}f", outputs["SCORES"])
    boxes = struct.unpack(f"<{4 * count}f", outputs["BOXES"])
    rles, data = [], outputs["MASKS_RLE"]
    while data:
        n = struct.unpack("<I", data[:4])[0]
        rles.append(data[4:4 + n].decode())
        data = data[4 + n:]
    found = []
    for i in range(count):
        x1, y1, x2, y2 = (int(v) for v in boxes[4 * i:4 * i + 4])
        if (x2 - x1) * (y2 - y1) > 0:
            found.append((ids[i], scores[i], [x1, y1, x2 - x1, y2 - y1], rles[i]))
    return found


def reference(yolact_detect, backend, image, work):
    out = os.path.join(work, os.path.basename(image) + ".json")
    subprocess.run([yolact_detect, "-m", WEIGHTS, "--backend", backend, "-o", out, image],
                   check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return [(r["category_id"], float32(r["score"]), r["bbox"], r["segmentation"]["counts"])
                for r in json.load(f)]


def executions(url):
    with urllib.request.urlopen(f"http://{url}/v2/models/{server_process.MODEL}/stats") as r:
        stats = json.load(r)["model_stats"][0]
    return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--tritonserver", required=True, help="the tritonserver binary")
    parser.add_argument("--cpu", action="store_true",
                        help="KIND_CPU against yolact-detect --backend cpu: this script "
                             "tried on a machine without a GPU")
    args = parser.parse_args()
    backend, kind = ("cpu", "KIND_CPU") if args.cpu else ("cuda", "KIND_GPU")
    work = tempfile.mkdtemp(prefix="yolact-triton-gpu-")
    expected = {image: reference(os.path.join(args.build, "yolact-detect"), backend, image,
                                 work)
                for image in IMAGES}
    log = os.path.join(work, "tritonserver.log")
    server = server_process.Server(os.path.join(args.build, "triton", "backends"), log,
                                   repository=repository(work, kind), binary=args.tritonserver)
    failed = None
    try:
        server.wait_ready()
        for image in IMAGES:
            got = infer(server.http_url, image)
            if got != expected[image]:
                raise AssertionError(f"{os.path.basename(image)}: the {kind} instance's "
                                     f"{len(got)} detections differ from yolact-detect "
                                     f"--backend {backend}'s {len(expected[image])}")
            print(f"triton {kind}: {os.path.basename(image)}: {len(got)} detections equal "
                  f"yolact-detect --backend {backend}'s")
        before = executions(server.http_url)
        jobs = [IMAGES[i % 2] for i in range(CONCURRENT)]
        with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
            for image, got in zip(jobs, pool.map(lambda p: infer(server.http_url, p), jobs)):
                if got != expected[image]:
                    raise AssertionError("a concurrent response differs")
        inferences, runs = (a - b for a, b in zip(executions(server.http_url), before))
        if inferences != CONCURRENT or runs >= CONCURRENT:
            raise AssertionError(f"{inferences} inferences in {runs} executions")
        print(f"triton {kind}: {CONCURRENT} concurrent requests right, in {runs} executions")
    except Exception as error:  # the log says why; the server still has to stop
        failed = error
    status = server.stop()
    if failed or status != 0:
        shutil.copy(log, os.environ.get("OUT", work))
        raise SystemExit(f"triton {kind}: FAILED: {failed or f'exit status {status}'} "
                         f"(log: tritonserver.log)")
    print(f"triton {kind}: clean exit")


if __name__ == "__main__":
    main()
