"""Load test of `python -m captcha_lib serve` on loopback, and ONNX Runtime against torch eager.

Starts the real server in a subprocess (once per backend), then C concurrent clients each
send single-image POST /predict requests, one after another, for T seconds. Prints
requests/s, p50 and p99 latency (as the client sees it: send to full answer) and errors.
Targets on 2 cores at concurrency 8: zero errors, p99 <= 50 ms.

    python benchmarks/serve_load.py --checkpoint runs/default/model.pt
    python benchmarks/serve_load.py --checkpoint runs/default/model.pt --concurrency 8 --seconds 20 --repeats 3

The clients run on the same machine and share its cores with the server: the figures
are what a laptop does with both, not the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from captcha_lib import Reader, export_onnx, list_images


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_flag: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "captcha_lib", "serve", *model_flag, "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server did not start: {process.stderr.read()}")


async def post_image(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, image: bytes) -> int:
    """One POST /predict on an open keep-alive connection; returns the HTTP status.

    A few lines of HTTP/1.1 rather than a client library: the load generator shares the
    2 cores with the server, so it must cost as little as it can (as wrk or hey would).
    """
    writer.write(f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
                 f"Content-Length: {len(image)}\r\n\r\n".encode() + image)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:"))
    body = await reader.readexactly(length)
    status = int(lines[0].split()[1])
    return status if status != 200 or b'"text"' in body else -1


async def load(url: str, images: list[bytes], concurrency: int, seconds: float) -> dict:
    """`concurrency` clients, each on its own connection sending one request at a time, for `seconds`."""
    host, port = url.removeprefix("http://").split(":")
    latencies, errors = [], []
    deadline = time.perf_counter() + seconds

    async def client(index: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        n = index
        try:
            while time.perf_counter() < deadline:
                image = images[n % len(images)]
                n += concurrency
                start = time.perf_counter()
                try:
                    status = await post_image(reader, writer, host, image)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(type(exc).__name__)
                    reader, writer = await asyncio.open_connection(host, int(port))
                    continue
                if status != 200:
                    errors.append(f"HTTP {status}")
                    continue
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "errors": len(errors),
            "p50": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
            "p99": float(np.percentile(ms, 99)) if len(ms) else float("nan"), "error_kinds": sorted(set(errors))}


def reader_throughput(reader, images: list[bytes], batch_size: int, seconds: float = 3.0) -> float:
    """Images/s of reader.read in this process, preprocessing and decoding included."""
    batches = [images[i:i + batch_size] for i in range(0, len(images) - batch_size + 1, batch_size)] or [images]
    reader.read(batches[0])  # warm up
    done, start, i = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        done += len(reader.read(batches[i % len(batches)]))
        i += 1
    return done / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/default/model.pt"))
    parser.add_argument("--data", type=Path, default=Path("Dataset/val"), help="images to send (default: Dataset/val)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3, help="load runs per backend; medians are reported")
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "torch"], choices=["onnxruntime", "torch"])
    parser.add_argument("--skip-throughput", action="store_true", help="only the HTTP load")
    args = parser.parse_args(argv)

    images = [path.read_bytes() for path in list_images(args.data)[:256]]
    onnx_path = Path(tempfile.mkdtemp()) / "model.onnx"
    export_onnx(args.checkpoint, onnx_path)
    print(f"{len(images)} images from {args.data} | concurrency {args.concurrency} | {args.seconds:.0f} s x "
          f"{args.repeats} per backend")

    print("\nin-process reader throughput (images/s, preprocessing and decoding included)")
    readers = {"torch": Reader.from_checkpoint(args.checkpoint, device="cpu"), "onnxruntime": Reader.from_onnx(onnx_path)}
    throughput = {}
    for batch_size in () if args.skip_throughput else (1, 64):
        for name, reader in readers.items():
            runs = [reader_throughput(reader, images, batch_size) for _ in range(3)]
            throughput[name, batch_size] = statistics.median(runs)
        ratio = throughput["onnxruntime", batch_size] / throughput["torch", batch_size]
        print(f"  batch {batch_size:2d}: torch eager {throughput['torch', batch_size]:7.1f}, onnxruntime "
              f"{throughput['onnxruntime', batch_size]:7.1f}  -> onnxruntime / torch = {ratio:.2f}x")

    print(f"\nHTTP load, POST /predict, one image per request, {args.concurrency} concurrent clients")
    print(f"  {'backend':12} {'run':>3} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
    summary = {}
    for backend in args.backends:
        flag = ["--onnx", str(onnx_path)] if backend == "onnxruntime" else ["--checkpoint", str(args.checkpoint)]
        process, url = start_server(flag)
        try:
            asyncio.run(load(url, images, args.concurrency, 2.0))  # warm up connections and caches
            runs = []
            for repeat in range(args.repeats):
                r = asyncio.run(load(url, images, args.concurrency, args.seconds))
                runs.append(r)
                print(f"  {backend:12} {repeat:3d} {r['requests']:8d} {r['rps']:7.1f} {r['p50']:7.1f} {r['p99']:7.1f} "
                      f"{r['errors']:6d} {' '.join(r['error_kinds'])}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=10)
        summary[backend] = {key: statistics.median(r[key] for r in runs) for key in ("rps", "p50", "p99")}
        summary[backend]["errors"] = sum(r["errors"] for r in runs)

    print("\nmedians over runs (targets: 0 errors, p99 <= 50 ms)")
    for backend, s in summary.items():
        verdict = "met" if s["errors"] == 0 and s["p99"] <= 50 else "NOT met"
        print(f"  {backend:12} {s['rps']:7.1f} req/s | p50 {s['p50']:5.1f} ms | p99 {s['p99']:5.1f} ms | "
              f"errors {s['errors']} | {verdict}")
    if len(summary) == 2:
        print(f"  onnxruntime / torch requests/s: {summary['onnxruntime']['rps'] / summary['torch']['rps']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
