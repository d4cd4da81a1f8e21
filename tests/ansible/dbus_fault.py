"""Faults at the D-Bus layer, injected from outside the module binary.

The module drives firewalld over D-Bus (no `firewall-cmd` to wrap), so the
fault matrix puts a relay between the module and the test host's system bus:
the module is started with DBUS_SYSTEM_BUS_ADDRESS pointing at the relay's
socket, and the relay passes every byte through both ways, reading the
messages as they pass. Each method call to firewalld is counted and logged in
the same counter files the tool wrappers use (`N dbus INTERFACE.MEMBER
FIRST-ARGUMENT`), and, as the fault says, the k-th call

- `fail k`: is not passed on; the relay answers it with firewalld's own error
  name (org.fedoraproject.FirewallD1.Exception) and "injected failure";
- `kill-after k`: is passed on, and once its reply is back the module is
  SIGKILLed (its pid from the socket's peer credentials);
- `meanwhile k`: as `fail k`, after someone else's change (a callback);
- `stop k`: is passed on after the daemon is SIGSTOPped (`daemon_pid`), so
  it and every call after it go unanswered until the test SIGCONTs it.

Only the D-Bus wire format's message framing and header fields are read
here (the spec's "Message Format"), by hand: no D-Bus library for Python
proxies raw messages, and the relay must not change a byte of them.
"""

import os
import signal
import socket
import struct
import threading

FIREWALLD = "org.fedoraproject.FirewallD1"
# Members that change firewalld's configuration (the rest read it).
CHANGING = {"addRichRule", "removeRichRule", "addEntry", "removeEntry", "addIPSet", "remove",
            "update", "update2", "setEntries", "setZoneSettings2", "reload"}

# What a bus answers during authentication (the spec's "Authentication
# Protocol"), one line each.
AUTH_REPLIES = (b"OK", b"REJECTED", b"DATA", b"ERROR", b"AGREE_UNIX_FD")

METHOD_CALL, METHOD_RETURN, ERROR = 1, 2, 3
# Header field codes.
MEMBER, INTERFACE, ERROR_NAME, REPLY_SERIAL, DESTINATION, SIGNATURE = 3, 2, 4, 5, 6, 8


def _align(n, k):
    return (n + k - 1) // k * k


class Message:
    """One message's framing and the header fields the relay reads."""

    def __init__(self, raw):
        self.raw = raw
        self.order = "<" if raw[0:1] == b"l" else ">"
        self.type = raw[1]
        body_len, self.serial, fields_len = struct.unpack(self.order + "III", raw[4:16])
        self.fields = {}
        pos, end = 16, 16 + fields_len
        while pos < end:
            pos = _align(pos, 8)
            code, sig_len = raw[pos], raw[pos + 1]
            sig = raw[pos + 2:pos + 2 + sig_len].decode()
            pos += 3 + sig_len
            if sig in ("s", "o"):
                pos = _align(pos, 4)
                (n,) = struct.unpack(self.order + "I", raw[pos:pos + 4])
                self.fields[code] = raw[pos + 4:pos + 4 + n].decode()
                pos += 5 + n
            elif sig == "g":
                n = raw[pos]
                self.fields[code] = raw[pos + 1:pos + 1 + n].decode()
                pos += 2 + n
            elif sig == "u":
                pos = _align(pos, 4)
                (self.fields[code],) = struct.unpack(self.order + "I", raw[pos:pos + 4])
                pos += 4
            else:
                raise ValueError(f"unexpected header field signature {sig!r}")
        self.body = raw[_align(end, 8):]
        assert len(self.body) == body_len

    @staticmethod
    def length(buf):
        """The whole message's length once its fixed header is in `buf`."""
        if len(buf) < 16:
            return None
        order = "<" if buf[0:1] == b"l" else ">"
        body_len, _, fields_len = struct.unpack(order + "III", buf[4:16])
        return _align(16 + fields_len, 8) + body_len

    def first_string(self):
        """The body's first argument when it is a string (a zone, a rule)."""
        if not self.fields.get(SIGNATURE, "").startswith("s") or len(self.body) < 4:
            return ""
        (n,) = struct.unpack(self.order + "I", self.body[:4])
        return self.body[4:4 + n].decode(errors="replace")


def error_reply(reply_serial, text):
    """A little-endian ERROR message answering `reply_serial` with `text`."""
    encoded = text.encode()
    body = struct.pack("<I", len(encoded)) + encoded + b"\0"
    fields = b""

    def field(code, sig, value):
        nonlocal fields
        fields += b"\0" * (_align(16 + len(fields), 8) - 16 - len(fields))
        fields += bytes([code, len(sig)]) + sig.encode() + b"\0"
        if sig == "u":
            fields += b"\0" * (_align(16 + len(fields), 4) - 16 - len(fields))
            fields += struct.pack("<I", value)
        elif sig == "s":
            fields += b"\0" * (_align(16 + len(fields), 4) - 16 - len(fields))
            fields += struct.pack("<I", len(value)) + value.encode() + b"\0"
        else:  # "g"
            fields += bytes([len(value)]) + value.encode() + b"\0"

    field(REPLY_SERIAL, "u", reply_serial)
    field(ERROR_NAME, "s", FIREWALLD + ".Exception")
    field(SIGNATURE, "g", "s")
    header = b"l" + bytes([ERROR, 1, 1]) + struct.pack("<III", len(body), 0xFFFF0000, len(fields))
    header += fields
    header += b"\0" * (_align(len(header), 8) - len(header))
    return header + body


class FaultRelay:
    """A relay on `path` to the bus at `bus_path`, for one module run."""

    def __init__(self, path, bus_path, counter, fault, meanwhile=None, daemon_pid=None):
        self.path, self.bus_path = path, bus_path
        self.counter, self.fault, self.meanwhile = counter, fault or "count", meanwhile
        self.daemon_pid = daemon_pid
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(8)
        self.lock = threading.Lock()
        self.threads = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return f"unix:path={self.path}"

    def close(self):
        self.closed = True
        self.server.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                Connection(self, client).start()
            except Exception:  # noqa: BLE001 - the client sees its connection end
                client.close()

    def count(self, message):
        """The call's number in the run, logged like a tool invocation."""
        with self.lock:
            try:
                with open(self.counter) as f:
                    n = int(f.read().strip() or 0) + 1
            except FileNotFoundError:
                n = 1
            with open(self.counter, "w") as f:
                f.write(f"{n}\n")
            interface = message.fields.get(INTERFACE, "").replace(FIREWALLD, "FirewallD1")
            member = message.fields.get(MEMBER, "")
            argument = message.first_string().replace("\n", " ")
            with open(self.counter + ".log", "a") as f:
                f.write(f"{n} dbus {interface}.{member} {argument}".rstrip() + "\n")
            return n


class Connection:
    """One client connection: the auth lines pass as they are, then
    messages, read whole before they are passed on."""

    def __init__(self, relay, client):
        self.relay, self.client = relay, client
        creds = client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        self.pid = struct.unpack("3i", creds)[0]
        self.bus = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.bus.connect(relay.bus_path)
        self.send_lock = threading.Lock()
        # The serial of the call whose reply ends the run (kill-after).
        self.kill_serial = None


    def start(self):
        threading.Thread(target=self._upstream, daemon=True).start()
        threading.Thread(target=self._downstream, daemon=True).start()

    def _to_client(self, data):
        with self.send_lock:
            self.client.sendall(data)

    def _upstream(self):
        """Client to bus: auth lines up to BEGIN, then messages."""
        buf = b""
        try:
            while b"BEGIN\r\n" not in buf:
                chunk = self.client.recv(65536)
                if not chunk:
                    return self._close()
                buf += chunk
                # Whole auth lines go on at once: the server answers each.
                if b"BEGIN\r\n" not in buf and b"\r\n" in buf:
                    lines, _, buf = buf.rpartition(b"\r\n")
                    self.bus.sendall(lines + b"\r\n")
            head, buf = buf.split(b"BEGIN\r\n", 1)
            self.bus.sendall(head + b"BEGIN\r\n")
            while True:
                length = Message.length(buf)
                while length is None or len(buf) < length:
                    chunk = self.client.recv(65536)
                    if not chunk:
                        return self._close()
                    buf += chunk
                    length = Message.length(buf)
                raw, buf = buf[:length], buf[length:]
                self._from_client(Message(raw))
        except Exception:  # noqa: BLE001 - a relay error must end the run, not hang it
            self._close()

    def _from_client(self, message):
        relay = self.relay
        if message.type != METHOD_CALL or message.fields.get(DESTINATION) != FIREWALLD:
            self.bus.sendall(message.raw)
            return
        n = relay.count(message)
        mode, _, k = relay.fault.partition(" ")
        if k and int(k) == n and mode in ("fail", "meanwhile"):
            if mode == "meanwhile" and relay.meanwhile:
                relay.meanwhile()
            text = f"INJECTED: injected failure of dbus (call {n})"
            if mode == "meanwhile":
                text += ", after someone else's change"
            self._to_client(error_reply(message.serial, text))
            return
        if k and int(k) == n and mode == "kill-after":
            self.kill_serial = message.serial
        if k and int(k) == n and mode == "stop":
            os.kill(relay.daemon_pid, signal.SIGSTOP)
        self.bus.sendall(message.raw)

    def _downstream(self):
        """Bus to client: auth lines (OK, AGREE_UNIX_FD, ...), then messages."""
        buf = b""
        try:
            while True:
                chunk = self.bus.recv(65536)
                if not chunk:
                    return self._close()
                buf += chunk
                buf = self._pass_lines(buf)
                if buf.startswith(AUTH_REPLIES):
                    continue  # the rest of an auth line is still to come
                while True:
                    length = Message.length(buf)
                    if length is None or len(buf) < length:
                        break
                    raw, buf = buf[:length], buf[length:]
                    if self.kill_serial is not None and \
                            Message(raw).fields.get(REPLY_SERIAL) == self.kill_serial:
                        # The call ran; the module dies before it hears so,
                        # so it sends nothing more.
                        os.kill(self.pid, signal.SIGKILL)
                        self.kill_serial = None
                        return self._close()
                    self._to_client(raw)
        except Exception:  # noqa: BLE001 - a relay error must end the run, not hang it
            self._close()

    def _pass_lines(self, buf):
        """Pass the server's whole auth lines on, keep a partial one. A
        client may send its whole auth exchange and BEGIN at once (zbus
        does), so the lines can come after BEGIN, just before the messages;
        a message starts with its byte order, `l` or `B`, never one of
        these words."""
        while buf.startswith(AUTH_REPLIES) and b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            self._to_client(line + b"\r\n")
        return buf

    def _close(self):
        for s in (self.client, self.bus):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
