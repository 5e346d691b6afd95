"""The HTTP service, started for real on 127.0.0.1 in a subprocess and called over HTTP."""

import concurrent.futures
import io
import socket
import subprocess
import sys
import time

import pytest
from hypothesis import settings
from PIL import Image

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from captcha_lib import list_images  # noqa: E402
from captcha_lib import Reader  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(checkpoint, *options):
    """(base URL, the server process): `serve` on a free loopback port, answering /health."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "captcha_lib", "serve", "--checkpoint", str(checkpoint),
                                "--port", str(port), "--max-batch", "4", "--max-image-bytes", "200000", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {process.stdout.read()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the server did not answer /health within 60 s")
    return url, process


@pytest.fixture(scope="module")
def server(trained_checkpoint):
    """The service, stopped after the module."""
    url, process = start_server(trained_checkpoint)
    yield url, process
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def expected(trained_checkpoint, tiny_dataset):
    """What the model reads in each validation image, computed here without the server."""
    paths = list_images(tiny_dataset / "val")
    readings = Reader.from_checkpoint(trained_checkpoint, device="cpu").read(paths)
    return {path: reading for path, reading in zip(paths, readings)}


def assert_still_serving(url, path, reading):
    response = httpx.post(f"{url}/predict", content=path.read_bytes(), timeout=10)
    assert response.status_code == 200 and response.json()["text"] == reading.text


def assert_error(response, status, fragment):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert fragment in response.json()["error"]


def test_health_metadata_and_docs(server, trained_checkpoint):
    url, _ = server
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    meta = httpx.get(f"{url}/metadata").json()
    assert meta["model"] == "crnn" and meta["backend"] == "torch"
    assert meta["alphabet"] == Reader.from_checkpoint(trained_checkpoint).vocabulary.characters
    assert meta["image_size"] == [40, 512] and meta["limits"]["max_batch"] == 4
    assert httpx.get(f"{url}/docs").status_code == 200
    assert "/predict/batch" in httpx.get(f"{url}/openapi.json").json()["paths"]
    assert_error(httpx.get(f"{url}/nowhere"), 404, "Not Found")


def test_predict_as_multipart_file_and_as_raw_body(server, expected):
    url, _ = server
    path, reading = next(iter(expected.items()))
    as_file = httpx.post(f"{url}/predict", files={"file": (path.name, path.read_bytes(), "image/png")}).json()
    as_body = httpx.post(f"{url}/predict", content=path.read_bytes(), headers={"content-type": "image/png"}).json()
    for answer in (as_file, as_body):
        assert set(answer) == {"text", "confidence", "decoder", "ms"}
        assert answer["text"] == reading.text and answer["decoder"] == "greedy"
        assert answer["confidence"] == pytest.approx(reading.confidence, rel=1e-4, abs=1e-12) and answer["ms"] > 0


def test_a_jpeg_from_memory_works_too(server):
    url, _ = server
    buffer = io.BytesIO()
    Image.new("RGB", (200, 50), "white").save(buffer, format="JPEG")
    assert httpx.post(f"{url}/predict", content=buffer.getvalue()).status_code == 200


def test_batch_keeps_the_order(server, expected):
    url, _ = server
    paths = list(expected)[:4]
    response = httpx.post(f"{url}/predict/batch", files=[("files", (p.name, p.read_bytes(), "image/png"))
                                                         for p in paths])
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == [expected[p].text for p in paths]


def test_a_batch_of_many_widths_reads_as_one_by_one(server, trained_checkpoint, expected):
    """Images of three aspect ratios in one request: the service's texts and confidences are the
    reader's, image by image (the ONNX reader's parity is in test_onnx.py)."""
    url, _ = server
    uploads = []
    for path, factor in zip(list(expected)[:4], (1, 2, 3, 1)):
        image = Image.open(path)
        buffer = io.BytesIO()
        image.resize((image.width * factor, image.height)).save(buffer, format="PNG")
        uploads.append(buffer.getvalue())
    reader = Reader.from_checkpoint(trained_checkpoint, device="cpu")
    alone = [reader.read([data])[0] for data in uploads]
    response = httpx.post(f"{url}/predict/batch", files=[("files", (f"{i}.png", data, "image/png"))
                                                         for i, data in enumerate(uploads)])
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["text"] for r in results] == [r.text for r in alone]
    assert [r["confidence"] for r in results] == pytest.approx([r.confidence for r in alone], rel=1e-4, abs=1e-12)


def test_upload_over_the_size_cap_is_413(server, expected):
    url, _ = server
    path, reading = next(iter(expected.items()))
    assert_error(httpx.post(f"{url}/predict", content=b"\x89PNG" + bytes(300_000)), 413, "the limit is")
    big_file = {"file": ("big.png", bytes(250_000), "image/png")}  # under the request cap, over the image cap
    assert_error(httpx.post(f"{url}/predict", files=big_file), 413, "limit")
    assert_still_serving(url, path, reading)


def test_a_body_that_is_not_an_image_is_415(server, expected):
    url, _ = server
    path, reading = next(iter(expected.items()))
    assert_error(httpx.post(f"{url}/predict", content=b"hello, I am text"), 415, "is not an image")
    assert_error(httpx.post(f"{url}/predict", files={"file": ("notes.txt", b"plain text", "text/plain")}),
                 415, "notes.txt")
    assert_still_serving(url, path, reading)


def test_a_truncated_image_is_400(server, expected):
    url, _ = server
    path, reading = next(iter(expected.items()))
    data = path.read_bytes()
    assert_error(httpx.post(f"{url}/predict", content=data[:len(data) // 2]), 400, "truncated")
    start = data.index(b"IDAT") + 8  # scramble the compressed pixels, keep the header
    corrupt = data[:start] + bytes(b ^ 0x5A for b in data[start:start + 200]) + data[start + 200:]
    assert_error(httpx.post(f"{url}/predict", content=corrupt), 400, "is not a readable image")
    assert_still_serving(url, path, reading)


def test_a_decompression_bomb_is_413(server, expected):
    url, _ = server
    path, reading = next(iter(expected.items()))
    for side, message in [(5_000, "25,000,000 pixels"),  # over our cap: refused from the header
                          (20_000, "400000000 pixels")]:  # over Pillow's own bomb limit: refused by Pillow
        buffer = io.BytesIO()
        Image.new("1", (side, side)).save(buffer, format="PNG")  # 400 megapixels in about 60 KB
        assert len(buffer.getvalue()) < 200_000
        assert_error(httpx.post(f"{url}/predict", content=buffer.getvalue()), 413, message)
    assert_still_serving(url, path, reading)


def test_an_empty_body_is_400(server, expected):
    url, _ = server
    path, reading = next(iter(expected.items()))
    assert_error(httpx.post(f"{url}/predict", content=b""), 400, "empty")
    assert_error(httpx.post(f"{url}/predict", files={"file": ("empty.png", b"", "image/png")}), 400, "empty")
    assert_still_serving(url, path, reading)


def test_too_many_images_in_a_batch_is_400(server, expected):
    url, _ = server
    path, reading = next(iter(expected.items()))
    files = [("files", (f"{i}.png", path.read_bytes(), "image/png")) for i in range(5)]  # the cap is 4
    assert_error(httpx.post(f"{url}/predict/batch", files=files), 400, "at most 4")
    assert_error(httpx.post(f"{url}/predict", files=files[:2]), 400, "at most 1")
    assert_error(httpx.post(f"{url}/predict/batch", files=files * 4), 400, "files")  # refused while parsing
    assert_still_serving(url, path, reading)


def test_concurrent_requests_get_their_own_answers(server, expected):
    url, process = server
    jobs = [path for path in expected for _ in range(4)]  # 48 requests, 12 different images
    with httpx.Client(timeout=30) as client, concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: client.post(f"{url}/predict", content=p.read_bytes()).json(), jobs))
    for path, answer in zip(jobs, answers):
        assert answer["text"] == expected[path].text
        assert answer["confidence"] == pytest.approx(expected[path].confidence, rel=1e-4, abs=1e-12)
    assert len({answer["confidence"] for answer in answers}) > 1  # different images, different answers
    assert process.poll() is None



# ---------------------------------------------------------------- hostile clients


@pytest.fixture(scope="module")
def guarded(trained_checkpoint):
    """A service with short limits: 1 s for a whole request, 30 connections."""
    url, process = start_server(trained_checkpoint, "--request-timeout", "1", "--max-connections", "30")
    yield url, process
    process.terminate()
    process.wait(timeout=10)


def open_socket(url, send=b""):
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    if send:
        sock.sendall(send)
    return sock


def closed_by_server(sock, within: float) -> bool:
    """True if the server closes `sock` (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass  # an error response before the close is fine
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    finally:
        sock.close()


def test_idle_and_slow_clients_are_cut_and_health_still_answers(guarded):
    url, process = guarded
    idle = [open_socket(url) for _ in range(12)]  # connect, send nothing
    slow = [open_socket(url, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Le") for _ in range(6)]  # half a header
    half_body = [open_socket(url, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + bytes(100))
                 for _ in range(6)]
    start = time.monotonic()
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200  # answered while 24 sockets hang
    assert all(closed_by_server(sock, within=4) for sock in idle + slow + half_body)
    assert time.monotonic() - start < 8
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200 and process.poll() is None


def test_connections_over_the_cap_are_closed_at_once(guarded):
    url, _ = guarded
    sockets = [open_socket(url) for _ in range(45)]  # the cap is 30
    time.sleep(0.3)
    closed = sum(closed_by_server(sock, within=0.2) for sock in sockets)
    assert closed >= 15  # those over the cap, closed before the request deadline
    time.sleep(1.5)
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200


def test_an_oversized_body_is_refused_unread_and_the_connection_closed(guarded):
    url, _ = guarded
    sock = open_socket(url, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 500000000\r\n\r\n" + bytes(1000))
    sock.settimeout(5)
    answer = b""
    while chunk := sock.recv(4096):  # ends when the server closes, long before 500 MB could be sent
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413") and b"the limit is" in answer


def test_the_openapi_spec_documents_every_status_and_the_required_file(guarded):
    url, _ = guarded
    spec = httpx.get(f"{url}/openapi.json", timeout=5).json()
    for path in ("/predict", "/predict/batch"):
        operation = spec["paths"][path]["post"]
        assert {"200", "400", "413", "415", "503"} <= set(operation["responses"]), path
        assert operation["requestBody"]["required"] is True
    multipart = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert multipart["required"] == ["file"]


def test_a_client_that_disconnects_mid_body_leaves_no_traceback(trained_checkpoint, tiny_dataset):
    url, process = start_server(trained_checkpoint)
    try:
        for _ in range(5):
            sock = open_socket(url, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + bytes(100))
            sock.close()
        files = {"file": ("x.png", b"--broken", "image/png")}
        httpx.post(f"{url}/predict", content=b"--xyz\r\nbroken", headers={"content-type": "multipart/form-data; boundary=xyz"})
        httpx.post(f"{url}/predict", files=files)
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "Traceback" not in output, output


# ---------------------------------------------------------------- the spec, fuzzed


def test_every_operation_answers_as_its_spec_says(guarded):
    """schemathesis: generated requests, valid and not, against the live /openapi.json: no 5xx,
    and every status, header and body as documented (25 examples an operation). Bytes the
    schema allows may still not be an image (a 400 or 415 then), so that check is off."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import given
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    url, process = guarded
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/predict/batch", "/health", "/metadata"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25)
        def check(case):
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
    assert process.poll() is None
