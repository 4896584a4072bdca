#!/usr/bin/env python3
"""WebSocket cases driven by Python's `websockets` library, for tests/websocket.rs.

Usage: ws_client.py CASE URL [CAFILE]

Prints one JSON object with what it saw; the Rust test asserts on it. Every wait is
bounded by the library's timeouts (10 s) or our own.
"""

import json
import os
import ssl
import sys
import time

from websockets.sync.client import connect


def open_ws(url, cafile, **kw):
    ctx = None
    if url.startswith("wss://"):
        ctx = ssl.create_default_context(cafile=cafile)
    kw.setdefault("proxy", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_size", 4 * 1024 * 1024)
    return connect(url, ssl=ctx, open_timeout=10, close_timeout=10, **kw)


def case_echo(url, cafile, compression):
    comp = None if compression == "off" else "deflate"
    out = {}
    with open_ws(url, cafile, compression=comp, subprotocols=["chat", "echo"]) as ws:
        out["subprotocol"] = ws.subprotocol
        out["extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
        ws.send("hello, text ✓")
        out["text"] = ws.recv(timeout=10)
        big = os.urandom(1024 * 1024)
        ws.send(big)
        out["binary_same"] = ws.recv(timeout=10) == big
        # A fragmented message: the library sends each piece as a frame.
        ws.send(["frag", "mented ", "message"])
        out["fragmented"] = ws.recv(timeout=10)
        started = time.monotonic()
        out["pong"] = ws.ping(b"are you there").wait(10)
        out["pong_ms"] = round((time.monotonic() - started) * 1000, 1)
        ws.close(1000, "bye")
        out["close_code"] = ws.close_code
    return out


def case_shutdown(url, cafile):
    with open_ws(url, cafile) as ws:
        ws.send("before")
        first = ws.recv(timeout=10)
        print("READY", flush=True)
        try:
            while True:
                ws.recv(timeout=20)
        except Exception:
            pass
        return {"first": first, "close_code": ws.close_code, "close_reason": ws.close_reason}


def case_rejected(url, cafile, origin):
    try:
        with open_ws(url, cafile, origin=origin):
            return {"status": 101}
    except Exception as e:  # InvalidStatus carries the response
        response = getattr(e, "response", None)
        return {"status": getattr(response, "status_code", None), "error": type(e).__name__}


def main():
    case, url = sys.argv[1], sys.argv[2]
    cafile = sys.argv[3] if len(sys.argv) > 3 else None
    rest = sys.argv[4:]
    fn = globals()["case_" + case.replace("-", "_")]
    print(json.dumps(fn(url, cafile, *rest)), flush=True)


if __name__ == "__main__":
    main()
