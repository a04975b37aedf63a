"""The peer of `birder serve` in tools/bench/bench_serving.py: a minimal FastAPI + uvicorn server
running the same Birder checkpoint in PyTorch (eager, `inference_mode`), with the same dynamic
batching policy (up to --max-batch-size images, waiting at most --max-queue-delay-ms) on one
compute thread, and the same top-k JSON answer. For benchmarks only.

Usage: python tools/bench/serving_peer.py CHECKPOINT --network rdnet_t --port 8090 [--threads 2]
"""

import argparse
import asyncio
import io
import queue
import threading
import time

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image

from birder.common import fs_ops
from birder.data.transforms.classification import inference_preset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--network", default="rdnet_t")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--max-queue-delay-ms", type=float, default=5)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    net, info = fs_ops.load_model(torch.device("cpu"), args.network, path=args.checkpoint, inference=True)
    net.eval()
    size = tuple(info.signature["inputs"][0]["data_shape"][2:4])
    transform = inference_preset(size, info.rgb_stats, 1.0)
    classes = {i: name for name, i in info.class_to_idx.items()}
    jobs: "queue.Queue[tuple]" = queue.Queue()

    def compute() -> None:
        while True:
            batch = [jobs.get()]
            deadline = time.perf_counter() + args.max_queue_delay_ms / 1000
            while len(batch) < args.max_batch_size:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    batch.append(jobs.get(timeout=remaining))
                except queue.Empty:
                    break
            results = []
            try:
                x = torch.stack([transform(Image.open(io.BytesIO(body)).convert("RGB")) for body, _, _, _ in batch])
                with torch.inference_mode():
                    probabilities = torch.softmax(net(x), dim=1)
                for row, (_, k, _, _) in zip(probabilities, batch):
                    p, i = torch.topk(row, min(k, row.numel()))
                    results.append(("ok", [{"class": classes.get(int(c), str(int(c))), "index": int(c), "probability": float(v)}
                                           for v, c in zip(p, i)]))
            except Exception as error:  # one bad image fails its batch, as a minimal server would
                results = [("error", str(error))] * len(batch)
            for (_, _, loop, future), result in zip(batch, results):
                loop.call_soon_threadsafe(future.set_result, result)

    threading.Thread(target=compute, daemon=True).start()
    app = FastAPI()

    @app.get("/v2/health/ready")
    async def ready() -> dict:
        return {"ready": True}

    @app.post("/v2/models/{name}/classify")
    async def classify(name: str, request: Request, top_k: int = 5) -> JSONResponse:
        body = await request.body()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        jobs.put((body, top_k, loop, future))
        status, value = await future
        if status != "ok":
            return JSONResponse({"error": value}, status_code=400)
        return JSONResponse({"predictions": [{"sample": "image", "heads": {"classifier": value}}]})

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
