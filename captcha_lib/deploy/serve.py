"""A small HTTP API around a reader: FastAPI, uvicorn, and limits on every input.

    python -m captcha_lib serve --checkpoint runs/default/model.pt      # PyTorch
    python -m captcha_lib serve --onnx model.onnx                      # onnxruntime, no torch

    POST /predict         one image: a multipart file or the raw body -> {text, confidence, decoder, ms}
    POST /predict/batch   up to `max_batch` images as multipart files -> {results: [...], ms}
    GET  /health, GET /metadata, and FastAPI's /docs (OpenAPI)

Bad input is answered with a JSON error and the server keeps serving:
413 a body over the size cap or an image over the pixel cap (a decompression bomb; the
connection is then closed, the rest of the body unread), 415 bytes that are not an image,
400 an empty body, a truncated or corrupt image, or too many images in a batch, 503 when
the uploads in progress already hold `max_in_flight_bytes`. Slow, idle and too many
connections are cut below the app (guard.py).

Requests that arrive together are read together: a single worker thread takes every
image waiting in the queue (up to `max_batch`) and runs them as one batch. The model
thus never runs two batches at once (no fight over 2 cores), and under load one
forward pass serves many requests (micro-batching).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ..data.images import load_image, resize_image
from ..decoding.decoders import Reading
from ..defaults import MAX_BATCH, MAX_CONNECTIONS, MAX_IMAGE_BYTES, MAX_PIXELS, REQUEST_TIMEOUT
from ..errors import ImageError, ImageTooLargeError, NotAnImageError
from .guard import guarded_protocol
from .reader import Reader


# Upload bytes all requests in progress may hold together (each reserves its declared size):
# 8 full batches. Beyond it a request gets 503 rather than memory.
MAX_IN_FLIGHT_BYTES = 8 * MAX_BATCH * MAX_IMAGE_BYTES


class RequestError(Exception):
    """Bad input from the client: an HTTP status and a message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class MicroBatcher:
    """Runs the reader on one thread, batching the images of requests that wait together."""

    def __init__(self, reader: Reader, max_batch: int = MAX_BATCH):
        self.reader, self.max_batch = reader, max_batch
        self.queue: asyncio.Queue | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.executor.shutdown(wait=False)

    async def read(self, images: list[np.ndarray]) -> list[Reading]:
        """Readings for images already resized to the model's size."""
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((images, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            count = len(jobs[0][0])
            while count < self.max_batch and not self.queue.empty():  # whatever else is waiting
                jobs.append(self.queue.get_nowait())
                count += len(jobs[-1][0])
            images = [image for job_images, _ in jobs for image in job_images]
            try:
                readings = await loop.run_in_executor(self.executor, self.reader.read, images)
            except Exception as exc:  # noqa: BLE001 - a failure goes to the requests that caused it
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for job_images, future in jobs:
                if not future.done():  # the client may have gone away
                    future.set_result(readings[start:start + len(job_images)])
                start += len(job_images)


def create_app(reader: Reader, max_image_bytes: int = MAX_IMAGE_BYTES, max_batch: int = MAX_BATCH,
               max_pixels: int = MAX_PIXELS, max_in_flight_bytes: int = MAX_IN_FLIGHT_BYTES) -> FastAPI:
    batcher = MicroBatcher(reader, max_batch)
    in_flight = {"bytes": 0}  # upload bytes held by requests in progress: over the cap, 503

    async def lifespan(app):
        reader.read([np.zeros((*reader.image_size, 3), np.uint8)])  # warm up: the first run is slow
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="captcha_lib", summary="Read the text of a CAPTCHA image (CNN + BiGRU + CTC)",
                  lifespan=lifespan)

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError):
        # too large: answer at once and close, rather than read the rest of the body
        return JSONResponse({"error": exc.message}, status_code=exc.status,
                            headers={"connection": "close"} if exc.status == 413 else None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):  # 404, 405, malformed multipart ...
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    def decode(data: bytes, name: str) -> np.ndarray:
        """Bytes -> the model-sized image, or a RequestError saying what is wrong."""
        if len(data) > max_image_bytes:
            raise RequestError(413, f"{name} is {len(data):,} bytes; the limit is {max_image_bytes:,}")
        try:  # a cut-off upload is an error, not an image with a grey end
            image = load_image(data, max_pixels=max_pixels, name=name)
        except ImageTooLargeError as exc:
            raise RequestError(413, str(exc)) from None
        except NotAnImageError as exc:
            raise RequestError(415, str(exc)) from None
        except ImageError as exc:  # empty, truncated, corrupt
            raise RequestError(400, str(exc)) from None
        return resize_image(image, reader.image_size)

    async def read_body(request: Request, limit: int) -> bytes:
        """The body, refused (413) as soon as it passes `limit` bytes, before it is all read."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, f"the request is {int(declared):,} bytes; the limit is {limit:,}")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise RequestError(413, f"the request is over the limit of {limit:,} bytes")
                chunks.append(chunk)
        except ClientDisconnect:  # the client went away mid-body: nothing to answer, nothing to log
            raise RequestError(400, "the client disconnected before the body was complete") from None
        return b"".join(chunks)

    async def uploaded_images(request: Request, most: int) -> list[tuple[str, bytes]]:
        """(name, bytes) of each uploaded image: multipart files, or the raw body as one image."""
        body = await read_body(request, most * max_image_bytes + 64 * 1024)  # + room for multipart headers
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return [("the body", body)]

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=most + 1, max_fields=most + 1,
                                                         max_part_size=max_image_bytes + 1)
        files = [(f"file {item.filename or key!r}", await item.read())
                 for key, item in form.multi_items() if hasattr(item, "read")]
        if not files:
            raise RequestError(400, "no file in the form; send the image as a multipart file or as the body")
        if len(files) > most:
            raise RequestError(400, f"{len(files)} images; at most {most} per request")
        return files

    async def read_images(request: Request, most: int) -> tuple[list[Reading], float]:
        start = time.perf_counter()
        declared = request.headers.get("content-length", "")
        reserved = min(int(declared), most * max_image_bytes) if declared.isdigit() else most * max_image_bytes
        if in_flight["bytes"] + reserved > max_in_flight_bytes:
            raise RequestError(503, "busy: too many uploads in progress; try again shortly")
        in_flight["bytes"] += reserved
        try:
            uploads = await uploaded_images(request, most)
            images = await run_in_threadpool(lambda: [decode(data, name) for name, data in uploads])
            return await batcher.read(images), start
        finally:
            in_flight["bytes"] -= reserved

    def result(reading: Reading, start: float) -> dict:
        return {"text": reading.text, "confidence": reading.confidence, "decoder": reader.decoder.name,
                "ms": round((time.perf_counter() - start) * 1000, 2)}

    body_doc = {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"}}}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}}
    batch_doc = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"], "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}
    error = {"content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}
    errors = {400: {"description": "an empty body, a truncated or corrupt image, no file, too many images", **error},
              413: {"description": "a body or an image over the size cap, or too many pixels", **error},
              415: {"description": "bytes that are not an image", **error},
              503: {"description": "busy: too many uploads or connections in progress", **error}}

    @app.post("/predict", openapi_extra=body_doc, responses=errors)
    async def predict(request: Request) -> dict:
        """Read one image (a multipart file, or the image as the raw body)."""
        readings, start = await read_images(request, 1)
        return result(readings[0], start)

    @app.post("/predict/batch", openapi_extra=batch_doc, responses=errors)
    async def predict_batch(request: Request) -> dict:
        """Read up to `max_batch` images sent as multipart files, in the order sent."""
        readings, start = await read_images(request, max_batch)
        results = [result(reading, start) for reading in readings]
        return {"results": results, "ms": results[-1]["ms"]}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/metadata")
    async def metadata() -> dict:
        return {"model": reader.model_name,
                "backend": reader.backend, "alphabet": reader.vocabulary.characters,
                "image_size": list(reader.image_size), "decoder": reader.decoder.name,
                "label_lengths": reader.metadata.get("label_lengths"),
                "limits": {"max_image_bytes": max_image_bytes, "max_batch": max_batch, "max_pixels": max_pixels}}

    return app


def serve(reader: Reader, host: str = "127.0.0.1", port: int = 8000, request_timeout: float = REQUEST_TIMEOUT,
          max_connections: int = MAX_CONNECTIONS, **limits) -> None:
    """Serve `reader` until Ctrl-C or SIGTERM, with the connection limits of guard.py."""
    import uvicorn

    uvicorn.run(create_app(reader, **limits), host=host, port=port, log_level="warning", access_log=False,
                http=guarded_protocol(request_timeout, max_connections),
                limit_concurrency=max_connections,  # requests in progress beyond it: 503
                timeout_keep_alive=5, h11_max_incomplete_event_size=16 * 1024)  # header bytes
