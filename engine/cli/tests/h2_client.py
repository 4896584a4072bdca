#!/usr/bin/env python3
"""HTTP/2 cases no client tool can express, for tests/http2.rs.

Usage: h2_client.py CASE PORT SCHEME [ARG]   (SCHEME: http = h2c, https = TLS + ALPN h2)

Drives the server with the `h2` library (and raw frames where an attack needs them),
then prints one JSON object with what it saw; the Rust test asserts on it. Every wait is
bounded (socket timeouts and deadlines); a case that cannot finish prints what it has.
"""

import json
import os
import socket
import ssl
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

DEADLINE = 20.0

# Frame types and flags for hand-built frames.
HEADERS, RST_STREAM, SETTINGS, PING, CONTINUATION = 1, 3, 4, 6, 9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(kind, flags, stream, payload=b""):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xFFFF, kind, flags, stream) + payload


def connect(port, scheme):
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
        if sock.selected_alpn_protocol() != "h2":
            raise SystemExit("ALPN did not select h2: %r" % sock.selected_alpn_protocol())
    return sock


class Stream:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.data = bytearray()
        self.ended = False
        self.reset = None
        self.trailers = {}
        self.informational = []


class Client:
    def __init__(self, port, scheme, settings=None, window=None, auto_flush=True):
        self.scheme = scheme
        self.sock = connect(port, scheme)
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        if window:
            self.conn.increment_flow_control_window(window)
        self.streams = {}
        self.uploads = {}  # stream id -> [remaining bytes, end]
        self.inbound = bytearray()  # bytes not yet split into frames
        self.preface_left = 0  # the server sends no preface but its SETTINGS frame
        self.goaway = None
        self.closed = False
        self.pings = 0
        self.auto_flush = auto_flush
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method, path, headers=(), body=None, end=True):
        sid = self.conn.get_next_available_stream_id()
        fields = [
            (":method", method),
            (":path", path),
            (":scheme", self.scheme),
            (":authority", "localhost"),
        ] + list(headers)
        self.conn.send_headers(sid, fields, end_stream=body is None and end)
        self.streams[sid] = Stream()
        if body is not None:
            self.uploads[sid] = [bytes(body), end]
            self.send_uploads()
        self.flush()
        return sid

    def send_more(self, sid, body, end):
        self.uploads[sid] = [bytes(body), end]
        self.send_uploads()
        self.flush()

    def send_uploads(self):
        for sid, (rest, end) in list(self.uploads.items()):
            if not rest:
                if end:
                    self.conn.end_stream(sid)
                del self.uploads[sid]
                continue
            while rest:
                room = min(
                    self.conn.local_flow_control_window(sid),
                    self.conn.max_outbound_frame_size,
                )
                if room <= 0:
                    break
                piece, rest = rest[:room], rest[room:]
                self.conn.send_data(sid, piece, end_stream=end and not rest)
            if rest:
                self.uploads[sid] = [rest, end]
            else:
                del self.uploads[sid]

    def on_events(self, events):
        for e in events:
            if isinstance(e, h2.events.ResponseReceived):
                s = self.streams[e.stream_id]
                s.headers = dict(e.headers)
                s.status = int(s.headers.get(":status", "0"))
            elif isinstance(e, h2.events.InformationalResponseReceived):
                self.streams[e.stream_id].informational.append(int(dict(e.headers)[":status"]))
            elif isinstance(e, h2.events.DataReceived):
                self.streams[e.stream_id].data += e.data
                self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.TrailersReceived):
                self.streams[e.stream_id].trailers = dict(e.headers)
            elif isinstance(e, h2.events.StreamEnded):
                self.streams[e.stream_id].ended = True
            elif isinstance(e, h2.events.StreamReset):
                if e.stream_id in self.streams:
                    self.streams[e.stream_id].reset = int(e.error_code)
                self.uploads.pop(e.stream_id, None)
            elif isinstance(e, h2.events.PingReceived):
                self.pings += 1

    def pump(self, until, timeout=DEADLINE):
        """Read and handle frames until `until(self)` holds or the peer closes."""
        end = time.monotonic() + timeout
        while not until(self):
            left = end - time.monotonic()
            if left <= 0 or self.closed:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return False
            except (ConnectionResetError, ssl.SSLError, OSError):
                data = b""
            if not data:
                self.closed = True
                return until(self)
            try:
                events = self.conn.receive_data(self.without_goaway(data))
            except h2.exceptions.ProtocolError:
                events = []
            self.on_events(events)
            self.send_uploads()
            if self.auto_flush:
                try:
                    self.flush()
                except OSError:
                    self.closed = True
        return True

    def without_goaway(self, data):
        """The frames in `data`, GOAWAY taken out and recorded: python-h2 closes its
        side on any GOAWAY, where RFC 9113 lets streams below the last id finish."""
        self.inbound += data
        out = bytearray()
        while True:
            if self.preface_left:
                n = min(self.preface_left, len(self.inbound))
                out += self.inbound[:n]
                del self.inbound[:n]
                self.preface_left -= n
            if len(self.inbound) < 9:
                break
            n = (self.inbound[0] << 16) | (self.inbound[1] << 8) | self.inbound[2]
            if len(self.inbound) < 9 + n:
                break
            f = bytes(self.inbound[: 9 + n])
            del self.inbound[: 9 + n]
            if f[3] == 7:
                last, code = struct.unpack(">II", f[9:17])
                if self.goaway is None:
                    self.goaway = {"code": code, "last_stream": last & 0x7FFFFFFF}
            else:
                out += f
        return bytes(out)

    def done(self, sid):
        return lambda c: c.streams[sid].ended or c.streams[sid].reset is not None

    def all_done(self, sids):
        return lambda c: all(c.done(s)(c) for s in sids)

    def wait_closed(self, timeout=DEADLINE):
        """Read until the server closes the connection; whether it did."""
        self.pump(lambda c: c.closed, timeout)
        return self.closed

    def summary(self, sid):
        s = self.streams[sid]
        return {
            "status": s.status,
            "ended": s.ended,
            "reset": s.reset,
            "len": len(s.data),
            "headers": s.headers,
            "trailers": s.trailers,
        }


def raw(port, scheme, frames, settle=b""):
    """Send the preface, empty SETTINGS and `frames` as raw bytes; report the GOAWAY."""
    sock = connect(port, scheme)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0))
    sent = 0
    try:
        for chunk in frames:
            sock.sendall(chunk)
            sent += 1
    except OSError:
        pass
    got = bytearray()
    end = time.monotonic() + DEADLINE
    goaway = None
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        except OSError:
            data = b""
        if not data:
            break
        got += data
    # Walk the frames the server sent.
    i = 0
    while i + 9 <= len(got):
        n = (got[i] << 16) | (got[i + 1] << 8) | got[i + 2]
        kind = got[i + 3]
        if kind == 7 and i + 9 + 8 <= len(got):
            last, code = struct.unpack(">II", bytes(got[i + 9 : i + 17]))
            goaway = {"code": code, "last_stream": last & 0x7FFFFFFF}
        i += 9 + n
    return {"goaway": goaway, "sent": sent, "closed": True}


def case_streams(port, scheme, n):
    c = Client(port, scheme)
    sids = [c.request("GET", "/request?i=%d" % i) for i in range(int(n))]
    c.pump(c.all_done(sids))
    ok = 0
    for i, sid in enumerate(sids):
        s = c.streams[sid]
        if s.status == 200 and s.ended:
            body = json.loads(bytes(s.data))
            if body["query"] == "i=%d" % i and body["protocol"] == "HTTP/2":
                ok += 1
    return {"ok": ok, "max_concurrent": c.conn.remote_settings.max_concurrent_streams}


def case_echo(port, scheme, size):
    payload = os.urandom(int(size))
    # The client's own window stays at the default 65,535: the server must respect it.
    c = Client(port, scheme)
    sid = c.request("POST", "/echo", [("content-type", "application/octet-stream")], payload)
    c.pump(c.done(sid), timeout=60)
    s = c.streams[sid]
    return {
        "status": s.status,
        "ended": s.ended,
        "same": bytes(s.data) == payload,
        "len": len(s.data),
    }


def case_limits(port, scheme):
    c = Client(port, scheme)
    many = c.request("GET", "/plaintext", [("x-h%d" % i, "v") for i in range(101)])
    huge = c.request("GET", "/plaintext", [("x-big", "v" * 33000)])
    body = c.request("POST", "/echo", [], b"x" * 5000)
    declared = c.request("POST", "/echo", [("content-length", "5000")], b"y" * 5000)
    fine = c.request("GET", "/plaintext")
    sids = [many, huge, body, declared, fine]
    c.pump(c.all_done(sids))
    after = c.request("GET", "/plaintext")
    c.pump(c.done(after))
    return {
        "many_headers": c.summary(many),
        "huge_header": c.summary(huge),
        "large_body": c.summary(body),
        "declared_body": c.summary(declared),
        "fine": c.summary(fine),
        "after": c.summary(after),
        "goaway": c.goaway,
    }


def case_reset(port, scheme):
    c = Client(port, scheme)
    slow = c.request("POST", "/echo", [], b"part", end=False)
    other = c.request("POST", "/echo", [], b"other", end=False)
    c.conn.reset_stream(slow, error_code=8)  # CANCEL
    c.flush()
    c.send_more(other, b" stream", True)
    plain = c.request("GET", "/plaintext")
    c.pump(c.all_done([other, plain]))
    return {
        "other": c.summary(other),
        "other_body": bytes(c.streams[other].data).decode(),
        "plain": c.summary(plain),
        "goaway": c.goaway,
    }


def case_rapid_reset(port, scheme):
    c = Client(port, scheme)
    sent = 0
    try:
        for _ in range(5000):
            sid = c.request("GET", "/plaintext")
            c.conn.reset_stream(sid, error_code=8)
            c.flush()
            sent += 1
            if sent % 50 == 0:
                c.pump(lambda c: c.goaway is not None, timeout=0.05)
                if c.goaway is not None or c.closed:
                    break
    except OSError:
        pass
    c.pump(lambda c: c.goaway is not None)
    return {"goaway": c.goaway, "sent": sent}


def case_continuation_flood(port, scheme):
    field = b"\x00\x01a\x01b"  # a literal header field, not indexed
    frames = [frame(HEADERS, 0, 1, b"\x82\x84\x86" + field)]
    frames += [frame(CONTINUATION, 0, 1, field * 10) for _ in range(20000)]
    return raw(port, scheme, frames)


def case_hpack_bomb(port, scheme):
    # One 4000-byte field put into the dynamic table (literal with incremental indexing,
    # new name), then referenced by index 62 thousands of times: a few KiB on the wire,
    # megabytes decoded.
    value = b"a" * 4000
    literal = b"\x40" + bytes([6]) + b"x-bomb" + bytes([0x7F]) + hpack_int(len(value) - 127) + value
    block = b"\x82\x84\x86" + literal + b"\xbe" * 4000
    frames = [frame(HEADERS, END_STREAM | END_HEADERS, 1, block)]
    return raw(port, scheme, frames)


def hpack_int(n):
    """The continuation bytes of an HPACK integer whose prefix is full."""
    out = bytearray()
    while n >= 128:
        out.append((n % 128) | 0x80)
        n //= 128
    out.append(n)
    return bytes(out)


def case_ping_flood(port, scheme):
    return raw(port, scheme, [frame(PING, 0, 0, b"\x00" * 8) for _ in range(5000)])


def case_settings_flood(port, scheme):
    return raw(port, scheme, [frame(SETTINGS, 0, 0) for _ in range(5000)])


def case_zero_window(port, scheme):
    c = Client(port, scheme, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    sid = c.request("GET", "/stream?chunks=4&size=100000")
    started = time.monotonic()
    c.pump(lambda c: c.goaway is not None)
    return {
        "goaway": c.goaway,
        "status": c.streams[sid].status,
        "seconds": round(time.monotonic() - started, 2),
    }


def case_shutdown(port, scheme):
    c = Client(port, scheme)
    sid = c.request("POST", "/echo", [], b"first half, ", end=False)
    c.pump(lambda c: False, timeout=0.3)  # let the stream reach the handler
    print("READY", flush=True)
    c.pump(lambda c: c.goaway is not None)
    goaway = c.goaway
    c.send_more(sid, b"second half", True)
    c.pump(c.done(sid))
    closed = c.wait_closed()
    return {
        "goaway": goaway,
        "stream": c.summary(sid),
        "body": bytes(c.streams[sid].data).decode(errors="replace"),
        "closed": closed,
    }


def case_keepalive(port, scheme):
    c = Client(port, scheme)
    sid = c.request("GET", "/plaintext")
    c.pump(c.done(sid))
    started = time.monotonic()
    closed = c.wait_closed()
    return {
        "goaway": c.goaway,
        "closed": closed,
        "seconds": round(time.monotonic() - started, 2),
    }


def case_ping(port, scheme, answer):
    c = Client(port, scheme, auto_flush=answer == "answer")
    sid = c.request("GET", "/plaintext")
    c.pump(c.done(sid))
    started = time.monotonic()
    c.pump(lambda c: c.closed, timeout=4.5)
    result = {
        "goaway": c.goaway,
        "closed": c.closed,
        "pings": c.pings,
        "seconds": round(time.monotonic() - started, 2),
    }
    if not c.closed:
        again = c.request("GET", "/plaintext")
        c.pump(c.done(again))
        result["after"] = c.summary(again)
    return result


def case_continue(port, scheme):
    c = Client(port, scheme)
    sid = c.request("POST", "/request", [("expect", "100-continue"), ("content-length", "5")], b"", end=False)
    got = c.pump(lambda c: c.streams[sid].informational, timeout=5)
    c.send_more(sid, b"hello", True)
    c.pump(c.done(sid))
    s = c.streams[sid]
    return {
        "informational": s.informational,
        "got_100_before_body": got,
        "status": s.status,
        "body": json.loads(bytes(s.data)) if s.ended else None,
    }


def case_slow_body(port, scheme):
    c = Client(port, scheme)
    sid = c.request("POST", "/request", [], b"x", end=False)
    started = time.monotonic()
    c.pump(c.done(sid))
    after = c.request("GET", "/plaintext")
    c.pump(c.done(after))
    return {
        "stream": c.summary(sid),
        "seconds": round(time.monotonic() - started, 2),
        "after": c.summary(after),
    }


def case_trailers(port, scheme):
    c = Client(port, scheme)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(
        sid,
        [(":method", "POST"), (":path", "/request"), (":scheme", scheme), (":authority", "localhost")],
    )
    c.streams[sid] = Stream()
    c.conn.send_data(sid, b"body")
    c.conn.send_headers(sid, [("x-checksum", "abc")], end_stream=True)
    c.flush()
    got = c.request("GET", "/trailers")
    c.pump(c.all_done([sid, got]))
    return {
        "request": json.loads(bytes(c.streams[sid].data)),
        "response": c.summary(got),
        "response_body": bytes(c.streams[got].data).decode(),
    }


def ws_frame(opcode, payload):
    """A masked client WebSocket frame (FIN set)."""
    key = b"\x11\x22\x33\x44"
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_frames(data):
    """The complete unmasked server frames in `data`: [(opcode, payload)]."""
    out, i = [], 0
    while i + 2 <= len(data):
        n, at = data[i + 1] & 0x7F, i + 2
        if n == 126:
            if i + 4 > len(data):
                break
            n, at = struct.unpack(">H", bytes(data[i + 2 : i + 4]))[0], i + 4
        if at + n > len(data):
            break
        out.append((data[i] & 0x0F, bytes(data[at : at + n])))
        i = at + n
    return out


def case_websocket(port, scheme):
    c = Client(port, scheme)
    c.pump(lambda c: c.conn.remote_settings.enable_connect_protocol, timeout=5)
    enabled = bool(c.conn.remote_settings.enable_connect_protocol)
    sids = []
    for text in ["first socket", "second socket"]:
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(
            sid,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", scheme),
                (":path", "/ws"),
                (":authority", "localhost"),
                ("sec-websocket-version", "13"),
            ],
        )
        c.streams[sid] = Stream()
        sids.append((sid, text))
    c.flush()
    c.pump(lambda c: all(c.streams[s].status for s, _ in sids))
    for sid, text in sids:
        c.conn.send_data(sid, ws_frame(1, text.encode()))
    c.flush()
    c.pump(lambda c: all(ws_frames(c.streams[s].data) for s, _ in sids))
    echo = [ws_frames(c.streams[s].data)[0][1].decode() for s, _ in sids]
    first = sids[0][0]
    c.conn.send_data(first, ws_frame(8, b"\x03\xe8"))
    c.flush()
    c.pump(lambda c: len(ws_frames(c.streams[first].data)) >= 2)
    frames = ws_frames(c.streams[first].data)
    close = frames[1] if len(frames) > 1 else (None, b"")
    return {
        "connect_protocol_enabled": enabled,
        "status": [c.streams[s].status for s, _ in sids],
        "echo": echo,
        "close_code": struct.unpack(">H", close[1][:2])[0] if close[0] == 8 else None,
    }


def main():
    case, port, scheme = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    args = sys.argv[4:]
    fn = globals()["case_" + case.replace("-", "_")]
    print(json.dumps(fn(port, scheme, *args)), flush=True)


if __name__ == "__main__":
    main()
