"""A tritonserver process with the yolact backend on loopback ports: started, waited for,
measured, stopped. Standard library only, so that the GPU session's check
(test/triton/gpu_check.py), on a machine with no package registry, can use it too.
"""
import importlib.util
import os
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REPOSITORY = os.path.join(ROOT, "examples", "triton", "model_repository")
MODEL = "yolact"


def tritonserver_binary():
    spec = importlib.util.find_spec("pytriton")
    if spec is None:
        raise SystemExit("nvidia-pytriton is not installed in this Python environment")
    path = os.path.join(spec.submodule_search_locations[0], "tritonserver", "bin",
                        "tritonserver")
    if not os.access(path, os.X_OK):
        raise SystemExit(f"{path}: no tritonserver in the nvidia-pytriton wheel")
    return path


def free_ports(count):
    """count ports free on loopback now (the server binds them a moment later)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Server:
    """A tritonserver process on loopback serving a model repository."""

    def __init__(self, backend_dir, log_path, repository=REPOSITORY, explicit=False,
                 environment=None, binary=None):
        """binary: the tritonserver to run, by default the nvidia-pytriton wheel's."""
        self.http_port, self.grpc_port, self.metrics_port = free_ports(3)
        args = [binary or tritonserver_binary(), f"--model-repository={repository}",
                f"--backend-directory={os.path.abspath(backend_dir)}",
                "--http-address=127.0.0.1", f"--http-port={self.http_port}",
                "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
                "--metrics-address=127.0.0.1", f"--metrics-port={self.metrics_port}",
                "--exit-timeout-secs=20"]
        if explicit:
            args += ["--model-control-mode=explicit", f"--load-model={MODEL}"]
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(environment or {})})
        self.http_url = f"127.0.0.1:{self.http_port}"
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"

    def wait_ready(self, timeout=120):
        """Until the model answers ready; fails at once if the server exits."""
        deadline = time.monotonic() + timeout
        url = f"http://{self.http_url}/v2/models/{MODEL}/ready"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {self.process.returncode}; "
                                   f"see {self.log.name}")
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the model was not ready within {timeout} s; see {self.log.name}")

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def metrics(self):
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.read().decode()

    def stop(self, timeout=60):
        """SIGTERM, as an operator stops it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise RuntimeError(f"tritonserver did not exit within {timeout} s of SIGTERM")
        self.log.close()
        return self.process.returncode
