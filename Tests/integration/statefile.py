"""An independent reader and patcher for the version-1 state file (CONTRACT §21.2).

Written from the contract rather than from the Swift code, so the tests check the format itself
and can tell which generation a primary or backup file holds.
"""

from __future__ import annotations

import struct
import zlib

MAGIC = b"OCTLST\r\n"

STRING_TAGS = {1: "id", 2: "alias", 3: "type", 4: "status", 5: "url", 6: "config",
               8: "peer.sid", 9: "peer.type", 10: "peer.alias"}


class StateFormatError(ValueError):
    pass


def header(data: bytes) -> tuple[int, int, int]:
    """(version, flags, payload length)."""
    if len(data) < 20 or data[:8] != MAGIC:
        raise StateFormatError("bad magic or short file")
    version, flags, length = struct.unpack(">HHI", data[8:16])
    return version, flags, length


def check(data: bytes) -> bytes:
    """Validate framing and checksum; return the payload."""
    version, flags, length = header(data)
    if version != 1:
        raise StateFormatError(f"version {version}")
    if flags != 0:
        raise StateFormatError(f"flags {flags}")
    if len(data) != 20 + length:
        raise StateFormatError(f"length {len(data)} != 20 + {length}")
    (crc,) = struct.unpack(">I", data[16 + length:])
    if crc != zlib.crc32(data[: 16 + length]):
        raise StateFormatError("crc mismatch")
    return data[16: 16 + length]


def decode(data: bytes) -> list[dict]:
    """Records in file order, string fields decoded, other tags kept as raw bytes."""
    payload = check(data)
    (count,) = struct.unpack(">I", payload[:4])
    pos = 4
    records = []
    for _ in range(count):
        (rlen,) = struct.unpack(">I", payload[pos: pos + 4])
        pos += 4
        rec_bytes = payload[pos: pos + rlen]
        if len(rec_bytes) != rlen:
            raise StateFormatError("record runs past payload")
        pos += rlen
        rec: dict = {}
        tags = []
        i = 0
        while i < rlen:
            tag = rec_bytes[i]
            (vlen,) = struct.unpack(">I", rec_bytes[i + 1: i + 5])
            value = rec_bytes[i + 5: i + 5 + vlen]
            if len(value) != vlen:
                raise StateFormatError("tag runs past record")
            i += 5 + vlen
            tags.append(tag)
            if tag in STRING_TAGS:
                rec[STRING_TAGS[tag]] = value.decode("utf-8")
            else:
                rec[tag] = value
        if tags != sorted(set(tags)):
            raise StateFormatError(f"tags not strictly ascending: {tags}")
        rec["_tags"] = tags
        records.append(rec)
    if pos != len(payload):
        raise StateFormatError("trailing payload bytes")
    return records


def key_record(data: bytes) -> dict:
    for rec in decode(data):
        if rec.get("id") == "********":
            return rec
    raise StateFormatError("no ******** record")


def with_version(data: bytes, version: int) -> bytes:
    """Patch bytes 8-9 and recompute the trailing CRC so only the version is wrong."""
    body = bytearray(data[:-4])
    body[8:10] = struct.pack(">H", version)
    return bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)))


def with_flags(data: bytes, flags: int) -> bytes:
    body = bytearray(data[:-4])
    body[10:12] = struct.pack(">H", flags)
    return bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)))


def flip_middle(data: bytes) -> bytes:
    out = bytearray(data)
    out[len(out) // 2] ^= 0xFF
    return bytes(out)


def raw_records(data: bytes) -> list[list[tuple[int, bytes]]]:
    """Records as ordered (tag, value) lists, for building variants of a real file."""
    payload = check(data)
    (count,) = struct.unpack(">I", payload[:4])
    pos, out = 4, []
    for _ in range(count):
        (rlen,) = struct.unpack(">I", payload[pos: pos + 4])
        rec, i, end = [], pos + 4, pos + 4 + rlen
        while i < end:
            tag = payload[i]
            (vlen,) = struct.unpack(">I", payload[i + 1: i + 5])
            rec.append((tag, payload[i + 5: i + 5 + vlen]))
            i += 5 + vlen
        out.append(rec)
        pos = end
    return out


def encode(records: list[list[tuple[int, bytes]]], count: int | None = None) -> bytes:
    """Frame records exactly as §21.2 describes (count defaults to the real number)."""
    payload = struct.pack(">I", len(records) if count is None else count)
    for rec in records:
        body = b"".join(struct.pack(">BI", tag, len(v)) + v for tag, v in rec)
        payload += struct.pack(">I", len(body)) + body
    head = MAGIC + struct.pack(">HHI", 1, 0, len(payload)) + payload
    return head + struct.pack(">I", zlib.crc32(head))
