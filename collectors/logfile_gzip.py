"""Reading a gzipped rotation as the logfile reader reads a file: seek, then read forward.

The reader seeks back at most into the block it read last (a partial line at a chunk's end),
so that block is kept and replayed; any other seek decompresses forward from where the
stream is (gzip's own backward seek starts over from the first byte).
"""

from __future__ import annotations

import gzip
import sys
import zlib

PIECE = 64 << 10  # what damage can cost: the piece it is in


class GzipStream:
    """A gzip file as a forward-read stream of its decompressed bytes, with a one-block replay."""

    size = sys.maxsize  # unknown until the end: read until the stream is exhausted

    def __init__(self, path: str) -> None:
        self._gz = gzip.open(path, "rb")  # noqa: SIM115 - the stream owns it; closed by close()
        self._stream_at = 0  # where the decompressed stream is
        self._at = 0  # where the next read starts
        self._block = b""
        self._block_at = 0
        self._broken: BaseException | None = None

    def seek(self, offset: int) -> int:
        self._at = offset
        return offset

    def read(self, size: int) -> bytes:
        out = bytearray()
        start = self._at - self._block_at
        if 0 <= start < len(self._block):
            out += self._block[start : start + size]
        self._at += len(out)
        if len(out) < size:
            if self._at != self._stream_at:
                self._gz.seek(self._at)
                self._stream_at = self._at
            data = self._decompress(size - len(out))
            self._stream_at += len(data)
            self._at += len(data)
            out += data
        self._block, self._block_at = bytes(out), self._at - len(out)
        return self._block

    def _decompress(self, size: int) -> bytes:
        """Up to `size` bytes; where the data is damaged, the lines before it, then the error."""
        if self._broken is not None:
            raise self._broken
        out = bytearray()
        try:
            while len(out) < size:
                piece = self._gz.read1(min(PIECE, size - len(out)))
                if not piece:
                    break
                out += piece
        except (OSError, EOFError, zlib.error) as exc:
            self._broken = exc
            del out[out.rfind(b"\n") + 1 :]  # a line cut by the damage is not taken
            if not out:
                raise
        return bytes(out)

    def close(self) -> None:
        self._gz.close()

    def __enter__(self) -> GzipStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
