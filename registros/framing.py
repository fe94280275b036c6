"""Syslog over TCP (RFC 6587): octet-counting (``LEN SP MSG``) or newline framing.

The framing is chosen per connection by its first byte, as rsyslog and syslog-ng do: a
digit is octet-counting, anything else (``<`` normally) is newline framing. A frame longer
than :data:`registros.syslog.MAX_BYTES` is handed on cut to ``MAX_BYTES + 1`` bytes (the
parser then cuts it at the bound and tags it ``registros_truncado``) and the rest of it is
skipped without being kept: the memory a connection holds is bounded whatever it sends.
"""

from __future__ import annotations

from registros.syslog import MAX_BYTES

MAX_LENGTH_DIGITS = 9  # MSG-LEN: a length of more digits is not octet-counting


class Framer:
    """Bytes of one connection in, whole frames out (without the newline or the length)."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max = max_bytes
        self.octets: bool | None = None  # None: the first byte will tell
        self._buf = bytearray()
        self._skip = 0  # octet-counting: bytes of an oversized frame still to drop
        self._skipping_line = False  # newline framing: dropping the rest of a long line

    def feed(self, data: bytes) -> list[bytes]:
        if self.octets is None and data:
            self.octets = data[:1].isdigit()
        self._buf += data
        out: list[bytes] = []
        if self.octets:
            self._octet_frames(out)
        if not self.octets:
            self._line_frames(out)
        return out

    def close(self) -> list[bytes]:
        """What is left when the peer closes: a last frame without its newline."""
        rest = bytes(self._buf).rstrip(b"\r\n")
        self._buf.clear()
        return [rest] if rest.strip() and not self._skipping_line and not self._skip else []

    def _octet_frames(self, out: list[bytes]) -> None:
        buf = self._buf
        while buf:
            if self._skip:
                n = min(self._skip, len(buf))
                del buf[:n]
                self._skip -= n
                continue
            space = buf.find(b" ", 0, MAX_LENGTH_DIGITS + 1)
            if space < 0 and len(buf) <= MAX_LENGTH_DIGITS and buf.lstrip(b"\r\n").isdigit():
                return  # the length is still coming
            head = bytes(buf[:space]).lstrip(b"\r\n") if space > 0 else b""
            if not head.isdigit():  # not octet-counting after all: newline framing from here
                self.octets = False
                return
            length = int(head)
            start = space + 1
            if length > self.max:
                if len(buf) - start < self.max + 1:
                    return
                out.append(bytes(buf[start : start + self.max + 1]))
                self._skip = length - (self.max + 1)
                del buf[: start + self.max + 1]
                continue
            if len(buf) - start < length:
                return
            out.append(bytes(buf[start : start + length]).rstrip(b"\r\n"))
            del buf[: start + length]

    def _line_frames(self, out: list[bytes]) -> None:
        buf = self._buf
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > self.max:
                    if not self._skipping_line:
                        out.append(bytes(buf[: self.max + 1]))
                        self._skipping_line = True
                    buf.clear()
                return
            if self._skipping_line:
                self._skipping_line = False
            elif nl > self.max:
                out.append(bytes(buf[: self.max + 1]))
            else:
                line = bytes(buf[:nl]).rstrip(b"\r")
                if line.strip(b" \x00"):
                    out.append(line)
            del buf[: nl + 1]
