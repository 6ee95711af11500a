"""Wire compatibility: treadle's Listener/Client and the stdlib's of every installed Python.

A stdlib ``multiprocessing.connection`` peer runs in a child interpreter of each version
3.10-3.14 (found by ``tools/pythons.py``; ``-I`` keeps pyenv's site-packages out). It
authenticates with treadle's end and they exchange objects and raw bytes both ways.
3.10 and 3.11 speak the legacy handshake (a bare 20-byte challenge, HMAC-MD5 answers);
3.12+ negotiate ``{sha256}``. A Python that is not installed is a skip naming it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from treadle.multiprocessing import _auth, connection
from treadle.multiprocessing._errors import AuthenticationError

sys.path.insert(0, str(Path(__file__).parent))
from _peer_pythons import (  # type: ignore[import-not-found,unused-ignore]
    VERSIONS,
    peer_python,
)

pytestmark = pytest.mark.timeout(90)

LEGACY = ("3.10", "3.11")

# The peer: argv = role, address (repr), authkey (hex). A client connects, sends, and
# checks the echo; a listener prints its address, accepts one client and echoes.
PEER = r"""
import ast, sys
from multiprocessing.connection import Client, Listener
role, address, key = sys.argv[1], ast.literal_eval(sys.argv[2]), bytes.fromhex(sys.argv[3])
payload = {"from": sys.version_info[:2], "items": [1, 2.5, None, "x" * 1000]}
blob = bytes(range(256)) * 512
if role == "client":
    with Client(address, authkey=key) as conn:
        conn.send(payload)
        assert conn.recv() == ("echo", payload), "object echo"
        conn.send_bytes(blob)
        assert conn.recv_bytes() == blob, "bytes echo"
else:
    with Listener(address, authkey=key) as listener:
        print(repr(listener.address), flush=True)
        with listener.accept() as conn:
            obj = conn.recv()
            conn.send(("echo", obj))
            conn.send_bytes(conn.recv_bytes())
print("peer ok", flush=True)
"""


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[bytes]]:
    """Record the answers treadle verifies and the nonces it answers."""
    seen: dict[str, list[bytes]] = {"answers": [], "nonces": []}
    verify, create = _auth._verify_challenge, _auth._create_response

    def verify_spy(authkey: bytes, message: bytes, response: bytes) -> None:
        seen["answers"].append(response)
        verify(authkey, message, response)

    def create_spy(authkey: bytes, message: bytes) -> bytes:
        seen["nonces"].append(message)
        return create(authkey, message)

    monkeypatch.setattr(_auth, "_verify_challenge", verify_spy)
    monkeypatch.setattr(_auth, "_create_response", create_spy)
    return seen


def _peer(version: str, role: str, address: Any, key: bytes) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(peer_python(version)), "-I", "-c", PEER, role, repr(address), key.hex()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(peer: subprocess.Popen[str]) -> str:
    out, err = peer.communicate(timeout=60)
    assert peer.returncode == 0, err
    return out


def _check_handshake(version: str, seen: dict[str, list[bytes]]) -> None:
    (answer,) = seen["answers"]
    (nonce,) = seen["nonces"]
    if version in LEGACY:
        assert len(answer) == 16  # a bare HMAC-MD5
        assert len(nonce) == 20  # a bare legacy challenge
    else:
        assert answer.startswith(b"{sha256}")
        assert nonce.startswith(b"{sha256}")


@pytest.mark.parametrize("family", ["AF_UNIX", "AF_INET"])
@pytest.mark.parametrize("version", VERSIONS)
def test_stdlib_client_to_treadle_listener(
    version: str, family: str, spy: dict[str, list[bytes]]
) -> None:
    key = os.urandom(16)
    peer_python(version)
    with connection.Listener(family=family, authkey=key) as listener:
        peer = _peer(version, "client", listener.address, key)
        try:
            with listener.accept() as conn:
                obj = conn.recv()
                assert obj["from"] == tuple(int(n) for n in version.split("."))
                conn.send(("echo", obj))
                conn.send_bytes(conn.recv_bytes())
        finally:
            out = _finish(peer)
    assert "peer ok" in out
    _check_handshake(version, spy)


@pytest.mark.parametrize("family", ["AF_UNIX", "AF_INET"])
@pytest.mark.parametrize("version", VERSIONS)
def test_treadle_client_to_stdlib_listener(
    version: str, family: str, spy: dict[str, list[bytes]], tmp_path: Path
) -> None:
    key = os.urandom(16)
    address: Any = str(tmp_path / "peer.sock") if family == "AF_UNIX" else ("127.0.0.1", 0)
    peer = _peer(version, "listener", address, key)
    try:
        assert peer.stdout is not None
        line = peer.stdout.readline()
        assert line, peer.stderr.read() if peer.stderr else ""
        bound = ast.literal_eval(line)
        with connection.Client(bound, authkey=key) as conn:
            payload = {"to": sys.version_info[:2], "blob": b"\0" * 70000}
            conn.send(payload)
            assert conn.recv() == ("echo", payload)
            conn.send_bytes(b"raw bytes")
            assert conn.recv_bytes() == b"raw bytes"
    finally:
        out = _finish(peer)
    assert "peer ok" in out
    _check_handshake(version, spy)


@pytest.mark.parametrize("version", VERSIONS)
def test_wrong_key_is_refused_by_both(version: str) -> None:
    with connection.Listener(authkey=b"right") as listener:
        peer = _peer(version, "client", listener.address, b"wrong")
        try:
            with pytest.raises(AuthenticationError):
                listener.accept()
        finally:
            _, err = peer.communicate(timeout=60)
    assert peer.returncode != 0
    assert "AuthenticationError" in err


@pytest.mark.parametrize("family", ["AF_UNIX", "AF_INET"])
@pytest.mark.parametrize("version", VERSIONS)
def test_stdlib_listener_refuses_treadle_client_with_wrong_key(
    version: str, family: str, tmp_path: Path
) -> None:
    # Over AF_UNIX treadle's client sends its own challenge with its answer, before the
    # verdict: a stdlib listener that refuses the answer must still reach it with
    # #FAILURE#, as AuthenticationError, not as a reset connection.
    address: Any = str(tmp_path / "peer.sock") if family == "AF_UNIX" else ("127.0.0.1", 0)
    peer = _peer(version, "listener", address, b"right")
    try:
        assert peer.stdout is not None
        line = peer.stdout.readline()
        assert line, peer.stderr.read() if peer.stderr else ""
        with pytest.raises(AuthenticationError, match="digest sent was rejected"):
            connection.Client(ast.literal_eval(line), authkey=b"wrong")
    finally:
        _, err = peer.communicate(timeout=60)
    assert peer.returncode != 0
    assert "AuthenticationError" in err
