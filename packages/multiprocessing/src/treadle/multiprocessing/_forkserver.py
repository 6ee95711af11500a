"""The forkserver: a warm interpreter that forks the children of the 'forkserver' method.

The server is started once per process (lazily, by :func:`ensure_running`) with
treadle's own :func:`main`, imports the modules named by :func:`set_preload`, and then
forks one child per request. Forking from a clean, single-threaded server is safe where
forking the caller (which may run threads) is not, and costs less than a fresh
interpreter.

Control socket and requests (treadle's own wire, except the handshake):

* the server listens on a Unix socket in a private directory (mode 0700, socket 0600);
* every client proves it holds the server's key: the server delivers an HMAC challenge,
  then answers the client's (the handshake of :mod:`~treadle.multiprocessing.connection`,
  so a ``Client(address, authkey=key)`` passes it too). The key never appears on a
  command line: the server reads it from a pipe;
* the request is one message carrying descriptors (``SCM_RIGHTS``): the read end of the
  payload pipe, the resource tracker's descriptor, and the descriptors the process object
  needs, with the numbers they had in the client (the child gets them under the same
  numbers, which is what :meth:`Popen.duplicate_for_child` promises);
* the server forks, sends back the child's pid (8 bytes, signed, native order) and keeps
  the connection; when the child ends it sends the exit code (negative: the signal) and
  closes it. A client that disconnects at any point costs the server nothing but that
  connection. The client's ``sentinel`` is its end of the connection.

The server stops when the read end of its "alive" pipe reports end of file: every
process that held the write end (the starter and its fork children) is gone.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Iterable, Sequence

from . import _auth, _native, _services, _spawn, _tracker
from ._errors import AuthenticationError

# The server imports this module too, and every child it forks copies what the server
# holds and runs its at-fork handlers: so no typing, no tempfile or shutil (which pull
# in random and the compression modules with their shared libraries), and the handle's
# lock is the interpreter's own (what treadle.threading.Lock() returns), so that the
# server does not load treadle.threading and each child skip its at-fork reset.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The most descriptors one request may carry (the payload pipe and tracker included).
MAXFDS_TO_SEND = 256
#: A pid or an exit code on the control socket.
SIGNED_STRUCT = struct.Struct("q")
_KEY_BYTES = 32  # one write to an empty pipe: atomic
_REQUEST = b"TFS1"
_TARGETS = struct.Struct("!I")
_FIXED_FDS = 2  # payload read end, resource tracker
_IO_TIMEOUT = struct.pack("ll", 10, 0)  # a stalled client blocks the server this long


class _Framed:
    """The framing of a connection (4-byte big-endian length, then the bytes).

    Just enough of a connection for the handshake, on a blocking descriptor.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def send_bytes(self, *messages: bytes) -> None:
        """Send each of *messages* as one framed message, all in one write."""
        data = b"".join(struct.pack("!i", len(buf)) + buf for buf in messages)
        while data:
            data = data[os.write(self._fd, data) :]

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        (size,) = struct.unpack("!i", _read_exactly(self._fd, 4))
        if size < 0 or (maxlength is not None and size > maxlength):
            raise _auth.OversizeMessage("bad message length")
        return bytes(_read_exactly(self._fd, size))


def _read_exactly(fd: int, size: int) -> bytearray:
    """Fill a buffer of *size* bytes from *fd*; EOFError when the peer closes first."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        got = os.readv(fd, [view[filled:]])
        if got == 0:
            raise EOFError(f"the peer closed the connection after {filled} of {size} bytes")
        filled += got
    return buffer


def read_signed(fd: int) -> int:
    """Read one pid or exit code from *fd*; EOFError when the other end closed first."""
    value: int = SIGNED_STRUCT.unpack(_read_exactly(fd, SIGNED_STRUCT.size))[0]
    return value


def write_signed(fd: int, value: int) -> None:
    """Write one pid or exit code to *fd*."""
    data = SIGNED_STRUCT.pack(value)
    while data:
        data = data[os.write(fd, data) :]


def _check_module_names(module_names: object) -> list[str]:
    if isinstance(module_names, (str, bytes)) or not isinstance(module_names, Iterable):
        raise TypeError("module_names must be a list of strings")
    names = list(module_names)
    if not all(type(name) is str for name in names):
        raise TypeError("module_names must be a list of strings")
    return names


class ForkServer:
    """Handle on the forkserver this process started.

    The attribute names are those CPython's tests reach into (``_forkserver_pid``,
    ``_forkserver_address``, ``_forkserver_authkey``, ``_forkserver_alive_fd``,
    ``_stop``, ``_preload_modules``); they keep their meaning.
    """

    def __init__(self) -> None:
        """Make a handle with no server yet; the first request starts one."""
        self._forkserver_authkey: bytes | None = None
        self._forkserver_address: str | None = None
        self._forkserver_alive_fd: int | None = None
        self._forkserver_pid: int | None = None
        self._inherited_fds: list[int] | None = None
        self._lock = _native.allocate_lock()
        self._preload_modules: list[str] = ["__main__"]

    def set_forkserver_preload(self, module_names: Sequence[str]) -> None:
        """Import *module_names* in the server (the next one started) before forking."""
        self._preload_modules = _check_module_names(module_names)

    def get_inherited_fds(self) -> list[int] | None:
        """Return the descriptors this process got, if the forkserver forked it (else None)."""
        return self._inherited_fds

    def _stop(self) -> None:
        """Stop the server this process started and wait for it (CPython's tests call it)."""
        with self._lock:
            self._stop_unlocked()

    def _stop_unlocked(self) -> None:
        pid = self._forkserver_pid
        if pid is None:
            return
        self._forget()
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    def _forget(self) -> None:
        """Let go of the server: close the alive pipe and remove the socket's directory."""
        alive, address = self._forkserver_alive_fd, self._forkserver_address
        self._forkserver_alive_fd = self._forkserver_pid = None
        self._forkserver_address = self._forkserver_authkey = None
        _services.withdraw(self)
        if alive is not None:
            os.close(alive)
        if address is not None:
            _remove_socket_dir(address)

    def ensure_running(self) -> None:
        """Start the server unless the one this process started is still running."""
        with self._lock:
            _tracker.ensure_running()
            pid = self._forkserver_pid
            if pid is not None:
                try:
                    done = os.waitpid(pid, os.WNOHANG)[0]
                except ChildProcessError:
                    done = pid
                if not done:
                    return
                self._forget()
            self._launch()

    def _launch(self) -> None:
        keywords: dict[str, Any] = {}
        argv: list[str] = []
        if self._preload_modules:
            # Any preload, not only "__main__"'s, is imported with the client's sys.path
            # (3.14's behaviour): a module found beside the script is found there too.
            keywords, argv = _main_preparation()
        import tempfile  # noqa: PLC0415 - the starter only (see the note at the imports)

        workdir = tempfile.mkdtemp(prefix="treadle-forkserver-")
        address = os.path.join(workdir, "sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        alive_r, alive_w = os.pipe()
        key_r, key_w = os.pipe()
        try:
            listener.bind(address)
            os.chmod(address, 0o600)
            listener.listen(128)
            server_fds = (listener.fileno(), alive_r, key_r)
            code = (
                "from treadle.multiprocessing._forkserver import main; "
                f"main({listener.fileno()}, {alive_r}, {key_r}, {self._preload_modules!r}, "
                f"**{keywords!r})"
            )
            args = _services.command(code) + argv
            # SIGINT is blocked until the server ignores it: a Ctrl-C while it starts
            # must not end it (it inherits the mask and unblocks the signal itself).
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                pid = _native.fork_exec_passfds(
                    os.fsencode(args[0]), [os.fsencode(a) for a in args], server_fds
                )
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            key = os.urandom(_KEY_BYTES)
            os.write(key_w, key)
        except BaseException:
            os.close(alive_w)
            _remove_socket_dir(address)
            raise
        finally:
            listener.close()
            os.close(alive_r)
            os.close(key_r)
            os.close(key_w)
        self._forkserver_address = address
        self._forkserver_alive_fd = alive_w
        self._forkserver_authkey = key
        self._forkserver_pid = pid
        _services.announce(self, pid, (alive_w,))

    def _connect(self) -> socket.socket:
        """Connect to the server, starting it first if it is not running."""
        for attempt in (1, 2):
            self.ensure_running()
            pid, address = self._forkserver_pid, self._forkserver_address
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # Blocking whatever socket.setdefaulttimeout() says: the descriptor is read
            # with os.read, and later waited on as the process's sentinel.
            client.setblocking(True)
            try:
                client.connect(address)  # type: ignore[arg-type]
            except (ConnectionRefusedError, FileNotFoundError):
                client.close()
                if attempt == 2:
                    raise
                # No listener: the server is ending (killed, say) but is not a zombie yet.
                with self._lock:
                    if pid is not None and self._forkserver_pid == pid:
                        self._forget()
                        try:
                            os.waitpid(pid, 0)
                        except ChildProcessError:
                            pass
                continue
            return client
        raise AssertionError("unreachable")  # pragma: no cover

    def connect_to_new_process(self, fds: Sequence[int]) -> tuple[int, int]:
        """Ask the server for a child that inherits *fds* under the same numbers.

        Returns ``(sentinel, payload_w)``: the control connection, from which
        :func:`read_signed` reads the child's pid and later its exit code, and the write
        end of the pipe the child reads its payload from. The caller owns both.
        """
        if len(fds) + _FIXED_FDS > MAXFDS_TO_SEND:
            raise ValueError(f"too many fds: at most {MAXFDS_TO_SEND - _FIXED_FDS}")
        client = self._connect()
        key = self._forkserver_authkey
        payload_r, payload_w = os.pipe()
        try:
            if key is None:  # pragma: no cover - _connect set it
                raise RuntimeError("the forkserver did not start")
            _prove_and_check(_Framed(client.fileno()), key)
            header = _REQUEST + _TARGETS.pack(len(fds)) + struct.pack(f"!{len(fds)}i", *fds)
            socket.send_fds(client, [header], [payload_r, _tracker.getfd(), *fds])
        except BaseException:
            client.close()
            os.close(payload_w)
            raise
        finally:
            os.close(payload_r)
        return client.detach(), payload_w


def _prove_and_check(channel: _Framed, key: bytes) -> None:
    """Run the client's half of the handshake, in two round trips instead of three.

    The same messages as ``answer_challenge`` then ``deliver_challenge`` (so the server
    cannot tell), but our own challenge leaves with our answer to the server's, and our
    verdict with nothing to wait for: the server's welcome and its answer come back
    together.
    """
    challenge = channel.recv_bytes(_auth.MAX_MESSAGE)
    if not challenge.startswith(_auth.CHALLENGE):
        raise AuthenticationError("protocol error: the forkserver sent no challenge")
    ours = b"{sha256}" + os.urandom(_auth.NONCE_BYTES)
    answer = _auth._create_response(key, challenge[len(_auth.CHALLENGE) :])
    channel.send_bytes(answer, _auth.CHALLENGE + ours)
    if channel.recv_bytes(_auth.MAX_MESSAGE) != _auth.WELCOME:
        raise AuthenticationError("digest sent was rejected")
    try:
        _auth._verify_challenge(key, ours, channel.recv_bytes(_auth.MAX_MESSAGE))
    except AuthenticationError:
        channel.send_bytes(_auth.FAILURE)
        raise
    channel.send_bytes(_auth.WELCOME)


def _main_preparation() -> tuple[dict[str, Any], list[str]]:
    """Return what the server needs to import our main script as ``__mp_main__``."""
    data = _spawn.get_preparation_data("ignore")
    keywords: dict[str, Any] = {"sys_path": data["sys_path"]}
    # A script only, as 3.14 does: a ``python -m`` main module is not preloaded.
    if "init_main_from_path" in data:
        keywords["main_path"] = data["init_main_from_path"]
    # The script sees its own arguments while the server imports it.
    return keywords, [str(arg) for arg in data.get("sys_argv", sys.argv)[1:]]


# ---------------------------------------------------------------------------------------
# The server process.


def _preload(modules: Sequence[str], sys_path: list[str] | None, main_path: str | None) -> None:
    if sys_path is not None:
        sys.path[:] = [*sys_path, *(p for p in sys.path if p not in sys_path)]
    import importlib  # noqa: PLC0415 - the server only

    for name in modules:
        try:
            if name != "__main__":
                importlib.import_module(name)
            elif main_path is not None:
                _import_main(main_path)
        except Exception:
            continue


def _import_main(main_path: str) -> None:
    """Import the client's main script as ``__mp_main__``, as a spawn child would."""
    from ._process import current_process  # noqa: PLC0415 - once, in the server

    me: Any = current_process()
    me._inheriting = True
    try:
        _spawn.import_main_path(main_path)
    finally:
        del me._inheriting


class _Server:
    """The server's state: the listener, the alive pipe, the children and their clients."""

    def __init__(self, listener_fd: int, alive_fd: int, key: bytes) -> None:
        self.listener = socket.socket(fileno=listener_fd)
        self.alive_fd = alive_fd
        self.key = key
        self.clients: dict[int, socket.socket] = {}  # child pid -> its client's connection
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, _nothing)
        signal.set_wakeup_fd(self.wake_w)
        poller = select.poll()
        for fd in (self.listener.fileno(), self.alive_fd, self.wake_r):
            poller.register(fd, select.POLLIN)
        while True:
            try:
                ready = {fd for fd, _ in poller.poll()}
            except InterruptedError:  # pragma: no cover - PEP 475 retries poll
                continue
            if self.alive_fd in ready:
                return
            if self.wake_r in ready:
                while True:
                    try:
                        if not os.read(self.wake_r, 512):
                            break
                    except BlockingIOError:
                        break
                self.reap()
            if self.listener.fileno() in ready:
                self.accept()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            client = self.clients.pop(pid, None)
            if client is None:
                continue
            try:
                write_signed(client.fileno(), os.waitstatus_to_exitcode(status))
            except (OSError, ValueError):
                pass  # the client is gone
            client.close()

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        received: list[int] = []
        try:
            conn.setblocking(True)  # the bound on a stalled client is SO_RCVTIMEO's
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _IO_TIMEOUT)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _IO_TIMEOUT)
            channel = _Framed(conn.fileno())
            _auth.deliver_challenge(channel, self.key)
            _auth.answer_challenge(channel, self.key)
            header, received, _flags, _ = socket.recv_fds(conn, 4096, MAXFDS_TO_SEND)
            targets = _parse_request(header, len(received))
        except (OSError, EOFError, ValueError, AuthenticationError, struct.error):
            _close_all(received)
            conn.close()
            return
        pid = self.fork(conn, received, targets)
        _close_all(received)
        if pid is None:
            conn.close()
            return
        self.clients[pid] = conn
        try:
            write_signed(conn.fileno(), pid)
        except OSError:
            pass  # the client left: the child runs on, its end is reaped later

    def fork(self, conn: socket.socket, received: list[int], targets: list[int]) -> int | None:
        # What the server printed (a preloaded module, say) must not be in the buffers
        # of every child, which would print it again when they flush at their end.
        _flush_std_streams()
        try:
            pid = os.fork()
        except OSError:
            return None
        if pid:
            return pid
        code = 1
        try:
            code = self.become_child(conn, received, targets)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            sys.excepthook(*sys.exc_info())
        finally:
            try:
                _native.run_atexit()
            except BaseException:
                pass
            _flush_std_streams()
            _native.exit_now(code)

    def become_child(self, conn: socket.socket, received: list[int], targets: list[int]) -> int:
        # 3.13+'s rule for a fork child, on every Python: the atexit handlers of the
        # server are dropped; those the child registers run before it ends.
        _native.clear_atexit()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for client in (*self.clients.values(), conn, self.listener):
            client.close()
        for fd in (self.alive_fd, self.wake_r, self.wake_w):
            os.close(fd)
        payload_r, tracker_fd, extras = _settle(received, targets)
        _forkserver._inherited_fds = extras
        # The payload pipe's write end stays open in the parent while it lives: a
        # duplicate of the read end is the child's sentinel of its parent.
        parent_sentinel = os.dup(payload_r)
        return _spawn.run_child(payload_r, parent_sentinel, tracker_fd=tracker_fd)


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def _nothing(signum: int, frame: object) -> None:
    """SIGCHLD's handler in the server: the wakeup descriptor does the work."""


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _parse_request(header: bytes, received: int) -> list[int]:
    """Return the descriptor numbers the client wants its extra descriptors to have."""
    if not header.startswith(_REQUEST):
        raise ValueError("not a forkserver request")
    start = len(_REQUEST)
    (count,) = _TARGETS.unpack_from(header, start)
    start += _TARGETS.size
    if count + _FIXED_FDS != received or len(header) != start + 4 * count:
        raise ValueError("the request's descriptors do not match its header")
    targets = list(struct.unpack_from(f"!{count}i", header, start))
    if any(fd < 0 for fd in targets) or len(set(targets)) != count:
        raise ValueError("bad descriptor numbers in the request")
    return targets


def _settle(received: list[int], targets: list[int]) -> tuple[int, int, list[int]]:
    """In the child: put the extra descriptors at the numbers the client gave them.

    Every received descriptor is first moved above all the numbers involved, so no
    placement overwrites a descriptor still to be placed; the payload pipe and the
    tracker keep the numbers they get there.
    """
    floor = max([*received, *targets, 2]) + 1
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor) for fd in received]
    _close_all(received)
    for fd, wanted in zip(moved[_FIXED_FDS:], targets, strict=True):
        os.dup2(fd, wanted, inheritable=False)
        os.close(fd)
    return moved[0], moved[1], targets


def main(
    listener_fd: int,
    alive_r: int,
    key_r: int,
    preload: Sequence[str] = (),
    *,
    sys_path: list[str] | None = None,
    main_path: str | None = None,
) -> None:
    """Run the forkserver until its alive pipe closes (the server's entry point)."""
    key = b""
    try:
        while len(key) < _KEY_BYTES:
            chunk = os.read(key_r, _KEY_BYTES - len(key))
            if not chunk:
                break
            key += chunk
    finally:
        os.close(key_r)
    if len(key) != _KEY_BYTES:
        sys.exit("forkserver: no key from the starter")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    # Standard input is not the server's: it reads /dev/null, and fd 0 stays taken.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # What every child runs anyway (the unpickler of its payload): imported once here,
    # not once per child, where it cost a third of a start.
    from . import _context, _native  # noqa: F401,PLC0415

    _native.payload_loader()

    _preload(preload, sys_path, main_path)
    # What is loaded now is shared by every child: moved out of the collector's sight,
    # a child's collections do not touch (and so copy) the pages it lives in.
    import gc  # noqa: PLC0415

    gc.collect()
    gc.freeze()
    server = _Server(listener_fd, alive_r, key)
    address = server.listener.getsockname()
    try:
        server.serve()
    finally:
        if isinstance(address, str) and address:
            _remove_socket_dir(address)


def _remove_socket_dir(address: str) -> None:
    """Remove the socket *address* and its private directory (nothing else lives there)."""
    for remove, path in ((os.unlink, address), (os.rmdir, os.path.dirname(address))):
        try:
            remove(path)
        except OSError:
            pass


_forkserver = ForkServer()


def _after_fork_in_child() -> None:
    # The server belongs to the parent: a fork child lets go of it (without removing its
    # socket) and starts its own on demand.
    server = _forkserver
    alive = server._forkserver_alive_fd
    if alive is None and server._forkserver_pid is None and not server._lock.locked():
        return  # nothing to let go of (in a forkserver's child, always): a page not copied
    server._lock = _native.allocate_lock()
    server._forkserver_alive_fd = server._forkserver_pid = None
    server._forkserver_address = server._forkserver_authkey = None
    _services.withdraw(server)
    if alive is not None:
        try:
            os.close(alive)
        except OSError:
            pass


os.register_at_fork(after_in_child=_after_fork_in_child)


def ensure_running() -> None:
    """Start the forkserver unless the one this process started still runs."""
    _forkserver.ensure_running()


def get_inherited_fds() -> list[int] | None:
    """Return the descriptors this process got, if the forkserver forked it (else None)."""
    return _forkserver.get_inherited_fds()


def connect_to_new_process(fds: Sequence[int]) -> tuple[int, int]:
    """Ask the forkserver for a new child; see :meth:`ForkServer.connect_to_new_process`."""
    return _forkserver.connect_to_new_process(fds)


def set_forkserver_preload(module_names: Sequence[str]) -> None:
    """Name the modules the next forkserver imports before it forks children."""
    _forkserver.set_forkserver_preload(module_names)


set_preload = set_forkserver_preload


def _stop() -> None:
    """Stop the forkserver this process started (the package's test clean-up calls it)."""
    _forkserver._stop()
