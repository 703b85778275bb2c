"""Fixtures for the model store core: real temp filesystems and a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import threading
import time

import pytest
from store_helpers import make_model


@pytest.fixture
def model_src(tmp_path):
    return make_model(str(tmp_path / "src" / "m1"))


@pytest.fixture
def store_root(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    return str(root)


class _Handler(http.server.SimpleHTTPRequestHandler):
    slow = 0.0  # seconds between 64 KiB chunks of a GET
    no_length = False

    requests = None  # list shared per server: (method, path, Authorization header)

    def log_message(self, *args):  # keep pytest output clean
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client was killed mid-transfer (that is the test)

    def send_head(self):
        self.requests.append((self.command, self.path, self.headers.get("Authorization")))
        return super().send_head()

    def send_header(self, keyword, value):
        if self.no_length and keyword.lower() == "content-length":
            return
        super().send_header(keyword, value)

    def copyfile(self, source, outputfile):
        if not self.slow:
            return super().copyfile(source, outputfile)
        while True:
            chunk = source.read(65536)
            if not chunk:
                break
            outputfile.write(chunk)
            outputfile.flush()
            time.sleep(self.slow)
        return None


@pytest.fixture
def http_mirror():
    """Start a real http.server on loopback serving a directory; returns a factory(dir, slow=0, no_length=False)."""
    servers = []

    def start(directory, slow=0.0, no_length=False):
        log = []
        handler = type("H", (_Handler,), {"slow": slow, "no_length": no_length, "requests": log})

        def factory(*a, **kw):
            return handler(*a, directory=directory, **kw)

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
        httpd.daemon_threads = True
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        servers.append(httpd)
        start.requests = log
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()
