"""A small HTTP/1.1 load generator, run as its own process: `python -m bench.loadgen SPEC.json`.

Plain asyncio streams with keep-alive connections (a few tens of microseconds of client CPU per request,
so the client steals little from the 2 cores the server runs on). `concurrency` connections each send
POST /v1/ask with the next question of the list until the list is used up (or, with "method": "GET" and a
"path", one GET of that path per question); meanwhile a probe sends
GET /healthz every 50 ms on its own connection - its latency shows whether the event loop stalls.
Prints one JSON line: latencies (ms), statuses, wall seconds, requests/s.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time


async def _request(reader, writer, method: str, path: str, host: str, body: bytes = b"") -> tuple[int, bytes]:
    head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode()
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        data = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            data += await reader.readexactly(size)
            await reader.readline()
        return status, data
    return status, await reader.readexactly(length)


async def run(spec: dict) -> dict:
    host, port = spec.get("host", "127.0.0.1"), int(spec["port"])
    questions: list[str] = spec["questions"]
    conc = int(spec["concurrency"])
    method, path = spec.get("method", "POST"), spec.get("path", "/v1/ask")
    bodies = [json.dumps({"question": q}, ensure_ascii=False).encode() if method == "POST" else b""
              for q in questions]
    lat: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    next_i = 0
    stop = asyncio.Event()

    async def worker():
        nonlocal next_i
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_i < len(bodies):
                body = bodies[next_i]
                next_i += 1
                t = time.perf_counter()
                try:
                    status, _ = await _request(reader, writer, method, path, host, body)
                except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(repr(exc))
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                lat.append((time.perf_counter() - t) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    probe_lat: list[float] = []

    async def probe():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not stop.is_set():
                t = time.perf_counter()
                await _request(reader, writer, "GET", "/healthz", host)
                probe_lat.append((time.perf_counter() - t) * 1000)
                try:
                    await asyncio.wait_for(stop.wait(), 0.05)
                except asyncio.TimeoutError:
                    pass
        finally:
            writer.close()

    prober = asyncio.create_task(probe()) if spec.get("probe", True) else None
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    wall = time.perf_counter() - t0
    stop.set()
    if prober is not None:
        await prober
    return {"latencies_ms": lat, "statuses": statuses, "errors": errors[:5], "n_errors": len(errors),
            "wall_s": wall, "rps": len(lat) / wall if wall else 0.0, "concurrency": conc,
            "healthz_ms": probe_lat}


def main() -> None:
    spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
    try:
        import uvloop  # noqa: F401  (optional, not required)

        uvloop.install()
    except Exception:  # noqa: BLE001
        pass
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
