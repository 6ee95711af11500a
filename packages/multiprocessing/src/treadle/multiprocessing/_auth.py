"""The HMAC challenge that authenticates the two ends of a connection.

The wire format is the stdlib's, so that a treadle end and a stdlib end of any version
from 3.10 on authenticate each other. One side (the listener, first) *delivers* a
challenge and the other *answers* it; then they swap roles. Every message is one framed
message of the connection (``send_bytes``/``recv_bytes``):

* the challenge is ``#CHALLENGE#`` followed by the nonce. Since 3.12 the nonce is
  ``{digest}`` and 40 random bytes, naming the HMAC the deliverer wants; a 3.10/3.11 end
  sends 20 random bytes and no prefix, which means HMAC-MD5;
* the answer is ``{digest}`` and the HMAC of the whole nonce (prefix included) under
  the shared key; to a bare 20-byte nonce it is the bare 16-byte HMAC-MD5, which is
  also what a 3.10/3.11 end sends back whatever it was challenged with;
* the deliverer replies ``#WELCOME#`` or ``#FAILURE#``.

Nothing here unpickles anything, and every read before the end of the handshake is
capped at :data:`MAX_MESSAGE` bytes, so an unauthenticated peer can neither run code
nor make us allocate more than that.
"""

from __future__ import annotations

import os

from ._errors import AuthenticationError

# A child that only unpickles a Connection imports this module: typing and hmac (with
# OpenSSL behind it) stay out of its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class _Channel(Protocol):
        def send_bytes(self, buf: bytes) -> None: ...

        def recv_bytes(self, maxlength: int | None = ...) -> bytes: ...

    class _Connection(_Channel, Protocol):
        """What the handshakes of Listener and Client use of a Connection."""

        def _send_frames(self, *payloads: bytes) -> None: ...

        def poll(self, timeout: float | None = ...) -> bool: ...


__all__ = ["answer_challenge", "client_handshake", "deliver_challenge", "server_handshake"]

CHALLENGE = b"#CHALLENGE#"
WELCOME = b"#WELCOME#"
FAILURE = b"#FAILURE#"

#: Bytes of randomness in a challenge we deliver (the stdlib's MESSAGE_LENGTH).
NONCE_BYTES = 40
#: The largest handshake message read from a peer.
MAX_MESSAGE = 256
#: The nonce length of a 3.10/3.11 deliverer, and the length of a bare HMAC-MD5.
LEGACY_NONCE_BYTES = 20
MD5_BYTES = 16

#: The digests a peer may name, as the stdlib allows them.
DIGESTS = frozenset({"md5", "sha256", "sha384", "sha3_256", "sha3_384"})
_LONGEST_NAME = max(len(name) for name in DIGESTS)
_LEGACY_SIZES = frozenset({LEGACY_NONCE_BYTES, MD5_BYTES})


class OversizeMessage(OSError):
    """A message longer than the reader's *maxlength*: ``OSError("bad message length")``.

    Raised by the connection's ``recv_bytes``; the handshake turns it into an
    :exc:`AuthenticationError`.
    """


def _digest_of(message: bytes) -> tuple[str, bytes]:
    """Split a prefixed nonce or answer into (digest name, rest).

    A legacy message (a bare 20-byte nonce or a bare 16-byte MD5 answer) gives
    ``("", message)``. Anything else must start with a ``{name}`` naming an allowed
    digest.
    """
    size = len(message)
    if size in _LEGACY_SIZES:
        return "", message
    if message[:1] == b"{":
        end = message.find(b"}", 1, _LONGEST_NAME + 2)
        if end > 1:
            name = message[1:end].decode("ascii", "replace")
            if name in DIGESTS:
                return name, message[end + 1 :]
    raise AuthenticationError(
        f"unsupported handshake message of {size} bytes: no known {{digest}} prefix"
    )


def _create_response(authkey: bytes, message: bytes) -> bytes:
    """Return the answer to the nonce *message* (CPython's tests call it by this name)."""
    import hmac  # noqa: PLC0415 - see the imports

    name = _digest_of(message)[0]
    if not name:
        try:
            return hmac.digest(authkey, message, "md5")
        except ValueError:
            # No MD5 here (a FIPS build): answer in the modern form; a legacy peer will
            # refuse it, which is the best that can be done.
            name = "sha256"
    return b"{" + name.encode("ascii") + b"}" + hmac.digest(authkey, message, name)


def _verify_challenge(authkey: bytes, message: bytes, response: bytes) -> None:
    """Raise :exc:`AuthenticationError` unless *response* answers *message*.

    CPython's tests call this by this name. The peer picks the digest of its answer;
    since the HMAC covers our whole nonce, prefix included, naming a weaker digest than
    we asked for does not let it forge one.
    """
    import hmac  # noqa: PLC0415 - see the imports

    named, mac = _digest_of(response)
    algorithm = named or "md5"  # a bare answer is a legacy peer's HMAC-MD5
    expected = _mac(authkey, message, algorithm)
    if len(mac) != len(expected):
        problem = f"a {algorithm} answer has {len(expected)} bytes, got {len(mac)}"
    elif hmac.compare_digest(mac, expected):
        return
    else:
        problem = "digest received was wrong"
    raise AuthenticationError(problem)


def _mac(authkey: bytes, message: bytes, algorithm: str) -> bytes:
    import hmac  # noqa: PLC0415 - see the imports

    try:
        return hmac.digest(authkey, message, algorithm)
    except ValueError:
        raise AuthenticationError(f"digest {algorithm!r} is not available here") from None


def _check_key(authkey: object) -> bytes:
    if not isinstance(authkey, bytes):
        raise ValueError(f"Authkey must be bytes, not {type(authkey)!s}")
    return authkey


def _read(connection: _Channel) -> bytes:
    try:
        return connection.recv_bytes(MAX_MESSAGE)
    except OversizeMessage:
        raise AuthenticationError(
            f"handshake message longer than {MAX_MESSAGE} bytes refused"
        ) from None


def deliver_challenge(connection: _Channel, authkey: bytes, digest_name: str = "sha256") -> None:
    """Challenge the peer of *connection* to prove it holds *authkey*.

    Sends a random nonce naming *digest_name*, checks the answer, and tells the peer
    whether it passed. Raises :exc:`AuthenticationError` when it did not.
    """
    key = _check_key(authkey)
    _judge_answer(connection, key, _send_challenge(connection, digest_name))


def answer_challenge(connection: _Channel, authkey: bytes) -> None:
    """Answer the peer's challenge with the HMAC of its nonce under *authkey*.

    Raises :exc:`AuthenticationError` when the peer sends no valid challenge or does
    not accept the answer.
    """
    key = _check_key(authkey)
    connection.send_bytes(_answer_to_challenge(connection, key))
    _read_verdict(connection)


def client_handshake(connection: _Connection, authkey: bytes, *, pipelined: bool) -> None:
    """Authenticate a new client connection both ways: answer the peer, then challenge it.

    With *pipelined*, our challenge leaves with our answer, in one write, instead of
    after the peer's verdict on it. The peer reads one message at a time, so it meets our
    challenge just after sending that verdict, as if we had waited; the handshake then
    takes three turns between the two ends instead of five. Only where a peer that
    refuses us and closes with our challenge unread cannot make its ``#FAILURE#`` get
    lost (AF_UNIX): over TCP that close sends a reset, which may overtake it.
    """
    if not pipelined:
        answer_challenge(connection, authkey)
        deliver_challenge(connection, authkey)
        return
    key = _check_key(authkey)
    answer = _answer_to_challenge(connection, key)
    nonce = _new_nonce("sha256")
    connection._send_frames(answer, CHALLENGE + nonce)
    _read_verdict(connection)
    _judge_answer(connection, key, nonce)


def server_handshake(connection: _Connection, authkey: bytes) -> None:
    """Authenticate a newly accepted connection both ways: challenge the peer, then answer.

    When the peer's challenge has already arrived with its answer (a pipelining client,
    see :func:`client_handshake`), our verdict and our answer leave in one write, so the
    peer wakes once for both. Otherwise this is :func:`deliver_challenge` then
    :func:`answer_challenge`.
    """
    key = _check_key(authkey)
    _judge_answer(connection, key, _send_challenge(connection, "sha256"), welcome=False)
    if connection.poll(0):
        connection._send_frames(WELCOME, _answer_to_challenge(connection, key))
    else:
        connection.send_bytes(WELCOME)
        connection.send_bytes(_answer_to_challenge(connection, key))
    _read_verdict(connection)


def _new_nonce(digest_name: str) -> bytes:
    return b"{" + digest_name.encode("ascii") + b"}" + os.urandom(NONCE_BYTES)


def _send_challenge(connection: _Channel, digest_name: str) -> bytes:
    nonce = _new_nonce(digest_name)
    connection.send_bytes(CHALLENGE + nonce)
    return nonce


def _judge_answer(connection: _Channel, key: bytes, nonce: bytes, *, welcome: bool = True) -> None:
    # Refused: the peer is told so. Accepted: it is welcomed, unless the caller sends
    # the welcome itself (with more).
    try:
        _verify_challenge(key, nonce, _read(connection))
    except AuthenticationError:
        connection.send_bytes(FAILURE)
        raise
    if welcome:
        connection.send_bytes(WELCOME)


def _answer_to_challenge(connection: _Channel, key: bytes) -> bytes:
    message = _read(connection)
    if not message.startswith(CHALLENGE):
        raise AuthenticationError("protocol error: the peer sent no challenge")
    nonce = message[len(CHALLENGE) :]
    if len(nonce) < LEGACY_NONCE_BYTES:
        raise AuthenticationError(f"challenge too short: {len(nonce)} bytes")
    return _create_response(key, nonce)


def _read_verdict(connection: _Channel) -> None:
    if _read(connection) != WELCOME:
        raise AuthenticationError("digest sent was rejected")
