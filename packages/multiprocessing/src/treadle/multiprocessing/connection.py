"""treadle.multiprocessing.connection: connections between processes (3.14's names).

:func:`Pipe`, :class:`Connection`, :class:`Listener`, :func:`Client` and :func:`wait`,
speaking the stdlib's wire format and HMAC handshake (:func:`deliver_challenge`,
:func:`answer_challenge`), so that either end may be a stdlib process of 3.10 or later.
"""

from . import _auth
from ._auth import answer_challenge, deliver_challenge
from ._connection import (
    BUFSIZE,
    CONNECTION_TIMEOUT,
    Client,
    Connection,
    ConnectionWrapper,
    Listener,
    Pipe,
    XmlClient,
    XmlListener,
    address_type,
    arbitrary_address,
    default_family,
    families,
    wait,
)
from ._native import publish as _publish

__all__ = [
    "BUFSIZE",
    "CONNECTION_TIMEOUT",
    "Client",
    "Connection",
    "ConnectionWrapper",
    "Listener",
    "Pipe",
    "XmlClient",
    "XmlListener",
    "address_type",
    "answer_challenge",
    "arbitrary_address",
    "default_family",
    "deliver_challenge",
    "families",
    "wait",
]

# CPython's tests read the handshake's constants and helpers by the stdlib's private names.
_create_response = _auth._create_response
_verify_challenge = _auth._verify_challenge
_CHALLENGE = _auth.CHALLENGE
_WELCOME = _auth.WELCOME
_FAILURE = _auth.FAILURE
# ... and the public names they had before 3.12, which the tests of 3.10/3.11 read.
CHALLENGE = _auth.CHALLENGE
WELCOME = _auth.WELCOME
FAILURE = _auth.FAILURE
MESSAGE_LENGTH = _auth.NONCE_BYTES

_publish(globals())
