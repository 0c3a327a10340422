import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modeguard.data.download import download, download_files
from modeguard.errors import ConfigError, DataError


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on localhost serving tmp_path/"served"; yields (base_url, folder, hits)."""
    served = tmp_path / "served"
    served.mkdir()
    hits = []

    class Handler(_Quiet):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served, hits
    httpd.shutdown()
    httpd.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_downloads_and_verifies(server, tmp_path):
    url, served, hits = server
    payload = bytes(range(256)) * 5000  # > 1 MiB: several read chunks
    (served / "f.bin").write_bytes(payload)
    dest = download(f"{url}/f.bin", tmp_path / "out" / "f.bin", _sha(payload))
    assert dest.read_bytes() == payload
    assert hits == ["/f.bin"]
    # already there with the right checksum: no second request
    download(f"{url}/f.bin", dest, _sha(payload).upper())
    assert hits == ["/f.bin"]


def test_checksum_mismatch_leaves_nothing_behind(server, tmp_path):
    url, served, _ = server
    (served / "f.bin").write_bytes(b"tampered")
    out = tmp_path / "out"
    with pytest.raises(DataError, match="sha256 mismatch"):
        download(f"{url}/f.bin", out / "f.bin", _sha(b"original"))
    assert list(out.iterdir()) == []  # no file, no temp file


def test_mismatch_keeps_the_old_file(server, tmp_path):
    url, served, _ = server
    (served / "f.bin").write_bytes(b"new content")
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old content")
    with pytest.raises(DataError, match="left unchanged"):
        download(f"{url}/f.bin", dest, _sha(b"something else"))
    assert dest.read_bytes() == b"old content"
    download(f"{url}/f.bin", dest, _sha(b"new content"))  # a stale file is replaced
    assert dest.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "served") == ["f.bin"]


def test_http_error(server, tmp_path):
    url, _, _ = server
    with pytest.raises(DataError, match="HTTP 404"):
        download(f"{url}/missing.bin", tmp_path / "m.bin", "0" * 64)
    assert not (tmp_path / "m.bin").exists()


def test_unreachable_host(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="failed"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "x", "0" * 64, timeout=5)


@pytest.mark.parametrize("bad", ["abc", "g" * 64, ""])
def test_bad_checksum_argument(tmp_path, bad):
    with pytest.raises(ConfigError, match="64 hexadecimal"):
        download("http://127.0.0.1:1/x", tmp_path / "x", bad)


def test_download_files_fetches_a_set(server, tmp_path):
    url, served, _ = server
    files = {}
    for name, body in [("a.gz", b"aaa"), ("b.gz", b"bbbb")]:
        (served / name).write_bytes(body)
        files[name] = _sha(body)
    folder = download_files(url + "/", files, tmp_path / "set")
    assert sorted(p.name for p in folder.iterdir()) == ["a.gz", "b.gz"]
