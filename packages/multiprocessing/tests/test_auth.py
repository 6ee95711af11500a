"""The HMAC handshake: SHA-256 by default, legacy MD5 peers, nothing unpickled before it."""

from __future__ import annotations

import functools
import hmac
import importlib
import os
import pickle
import struct
import threading
from pathlib import Path
from typing import Any

import pytest

from treadle.multiprocessing import connection
from treadle.multiprocessing._auth import CHALLENGE, FAILURE, WELCOME
from treadle.multiprocessing._errors import AuthenticationError

pytestmark = pytest.mark.timeout(30)


def _in_thread(target: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(target(*args))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


class _Scripted:
    """A fake connection: recv_bytes returns the scripted messages, sends are recorded."""

    def __init__(self, *incoming: bytes) -> None:
        self.incoming = list(incoming)
        self.sent: list[bytes] = []

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        return self.incoming.pop(0) if self.incoming else b""

    def send_bytes(self, data: bytes) -> None:
        self.sent.append(bytes(data))


def test_handshake_over_a_pipe_both_ways() -> None:
    a, b = connection.Pipe()
    with a, b:
        thread, outcome = _in_thread(connection.deliver_challenge, a, b"key")
        connection.answer_challenge(b, b"key")
        thread.join()
        assert outcome == [None]
        thread, outcome = _in_thread(connection.answer_challenge, a, b"key")
        connection.deliver_challenge(b, b"key")
        thread.join()
        assert outcome == [None]


def test_wrong_key_fails_on_both_sides() -> None:
    a, b = connection.Pipe()
    with a, b:
        thread, outcome = _in_thread(connection.deliver_challenge, a, b"right")
        with pytest.raises(AuthenticationError):
            connection.answer_challenge(b, b"wrong")
        thread.join()
        assert isinstance(outcome[0], AuthenticationError)


def test_challenge_names_sha256_and_answer_is_prefixed() -> None:
    fake = _Scripted()
    with pytest.raises(AuthenticationError):
        connection.deliver_challenge(fake, b"k")
    challenge = fake.sent[0]
    assert challenge.startswith(CHALLENGE + b"{sha256}")
    assert len(challenge) == len(CHALLENGE) + len(b"{sha256}") + 40
    assert fake.sent[-1] == FAILURE
    nonce = challenge[len(CHALLENGE) :]
    answer = connection._create_response(b"k", nonce)
    assert answer == b"{sha256}" + hmac.digest(b"k", nonce, "sha256")


@pytest.mark.stdlib_since((3, 12), "the {digest} negotiation (and its helpers) came in 3.12")
@pytest.mark.parametrize("algo", [None, "md5", "sha256", "sha384", "sha3_256", "sha3_384"])
def test_create_and_verify(impl: Any, algo: str | None) -> None:
    conn_mod = importlib.import_module(impl.__name__ + ".connection")
    message = b"is-twenty-bytes-long"
    if algo is not None:
        message = b"{" + algo.encode() + b"}" + message
    response = conn_mod._create_response(b"secret", message)
    conn_mod._verify_challenge(b"secret", message, response)
    with pytest.raises(impl.AuthenticationError):
        conn_mod._verify_challenge(b"other", message, response)


def test_legacy_deliverer_gets_a_bare_md5_answer() -> None:
    # A 3.10/3.11 listener: 20 random bytes, no prefix; it expects HMAC-MD5, unprefixed.
    nonce = os.urandom(20)
    fake = _Scripted(CHALLENGE + nonce, WELCOME)
    connection.answer_challenge(fake, b"k")
    assert fake.sent == [hmac.digest(b"k", nonce, "md5")]


def test_legacy_answerer_is_accepted() -> None:
    # A 3.10/3.11 client answers any challenge with HMAC-MD5 of the whole nonce.
    class LegacyPeer(_Scripted):
        def send_bytes(self, data: bytes) -> None:
            super().send_bytes(data)
            if data.startswith(CHALLENGE):
                nonce = bytes(data[len(CHALLENGE) :])
                self.incoming.append(hmac.digest(b"k", nonce, "md5"))

    peer = LegacyPeer()
    connection.deliver_challenge(peer, b"k")
    assert peer.sent[-1] == WELCOME


@pytest.mark.stdlib_since((3, 12), "connection._CHALLENGE is a 3.12 name")
def test_bogus_answer_and_bogus_challenge(impl: Any) -> None:
    conn_mod = importlib.import_module(impl.__name__ + ".connection")
    with pytest.raises(impl.AuthenticationError):
        conn_mod.deliver_challenge(_Scripted(b"something bogus"), b"abc")
    with pytest.raises(impl.AuthenticationError):
        conn_mod.answer_challenge(_Scripted(conn_mod._CHALLENGE, b"something bogus"), b"abc")
    with pytest.raises(impl.AuthenticationError):
        conn_mod.answer_challenge(_Scripted(b"#HELLO#" + bytes(40)), b"abc")


def test_unknown_digest_is_refused() -> None:
    with pytest.raises(AuthenticationError):
        connection._verify_challenge(b"k", b"x" * 30, b"{sha1}" + bytes(20))
    with pytest.raises(AuthenticationError):
        connection._verify_challenge(b"k", b"x" * 30, b"{nothing}" + bytes(32))


def test_authkey_must_be_bytes() -> None:
    with pytest.raises(ValueError, match="Authkey"):
        connection.deliver_challenge(_Scripted(), "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Authkey"):
        connection.answer_challenge(_Scripted(), bytearray(b"k"))  # type: ignore[arg-type]


def test_oversize_answer_is_refused_without_reading_it() -> None:
    # The peer announces a 3 GiB answer: refused from the header alone.
    a, b = connection.Pipe()
    with a, b:
        os.write(b.fileno(), struct.pack("!i", -1) + struct.pack("!Q", 3 << 30))
        with pytest.raises(AuthenticationError, match="longer than 256"):
            connection.deliver_challenge(a, b"k")
        # The challenge went out before the refusal, then the failure notice.
        assert b.recv_bytes().startswith(CHALLENGE)
        assert b.recv_bytes() == FAILURE


class _Payload:
    """Unpickling this creates a file: the proof that something was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize("padding", [0, 1000], ids=["small-pickle", "large-pickle"])
def test_pickle_sent_before_auth_is_never_loaded(tmp_path: Path, padding: int) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps((_Payload(str(marker)), b"x" * padding))
    with connection.Listener(authkey=b"secret") as listener:
        thread, outcome = _in_thread(listener.accept)
        with connection.Client(listener.address) as raw:  # no authkey: skips the handshake
            assert raw.recv_bytes().startswith(CHALLENGE)
            raw.send_bytes(payload)
            thread.join()
            assert raw.recv_bytes() == FAILURE
    assert isinstance(outcome[0], AuthenticationError)
    assert not marker.exists()


def test_client_refuses_a_listener_that_sends_a_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(str(marker)))
    with connection.Listener() as listener:  # a rogue server: no handshake

        def serve() -> None:
            with listener.accept() as conn:
                conn.send_bytes(payload)
                try:
                    conn.recv_bytes()
                except (EOFError, OSError):
                    pass

        thread, _ = _in_thread(serve)
        with pytest.raises(AuthenticationError):
            connection.Client(listener.address, authkey=b"secret")
        thread.join()
    assert not marker.exists()


def _peer_challenges(conn: Any, key: bytes) -> bytes:
    """Play the listener's first half by hand: challenge, check the answer's HMAC."""
    nonce = b"{sha256}" + os.urandom(40)
    conn.send_bytes(CHALLENGE + nonce)
    answer = conn.recv_bytes()
    assert answer == b"{sha256}" + hmac.digest(key, nonce, "sha256")
    return nonce


@pytest.mark.parametrize("pipelined", [True, False])
def test_client_handshake_pipelines_its_challenge_only_when_asked(pipelined: bool) -> None:
    from treadle.multiprocessing import _auth

    key = os.urandom(16)
    ours, theirs = connection.Pipe()
    with ours, theirs:
        thread, outcome = _in_thread(
            functools.partial(_auth.client_handshake, pipelined=pipelined), theirs, key
        )
        _peer_challenges(ours, key)
        # Pipelined, the client's challenge is already on its way before any verdict;
        # otherwise it waits for the welcome (a short poll proves nothing more came).
        assert ours.poll(10 if pipelined else 0.2) is pipelined
        ours.send_bytes(WELCOME)
        challenge = ours.recv_bytes()
        assert challenge.startswith(CHALLENGE + b"{sha256}")
        nonce = challenge[len(CHALLENGE) :]
        ours.send_bytes(b"{sha256}" + hmac.digest(key, nonce, "sha256"))
        assert ours.recv_bytes() == WELCOME
        thread.join()
    assert outcome == [None]


def test_pipelining_client_refused_gets_authentication_error() -> None:
    from treadle.multiprocessing import _auth

    ours, theirs = connection.Pipe()
    with ours, theirs:
        thread, outcome = _in_thread(
            functools.partial(_auth.client_handshake, pipelined=True), theirs, b"wrong"
        )
        ours.send_bytes(CHALLENGE + b"{sha256}" + os.urandom(40))
        ours.recv_bytes()  # a wrong answer
        ours.send_bytes(FAILURE)
        ours.close()  # with the client's challenge unread
        thread.join()
    assert isinstance(outcome[0], AuthenticationError)
    assert "rejected" in str(outcome[0])
