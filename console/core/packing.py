"""Frame logs and logged events stored compressed: the bulk of the store, a tenth of the bytes.

Each OCPP frame and each event of the durable event log is a few hundred bytes
to a kilobyte and a half of JSON that repeats the same keys in every row. One
row at a time compresses poorly, so each is compressed with Zstandard and a
dictionary trained on frames and events (`packing-v1.zdict`, 8 KiB, in the
package): 750 B of JSON become ~70 B. A stored value is one tag byte, then the
compressed frame (Zstandard without its magic number, no checksum, the content
size kept); a value that does not start with a known tag is the text itself, as
rows written before compression are (SQLite keeps them as text, PostgreSQL
turned them into their UTF-8 bytes). The dictionary of a tag never changes: a
better one is a new tag, and every tag ever written stays readable.

`PackedText` is the column type: the store and the ORM see `str` both ways.
"""

from __future__ import annotations

import threading
from importlib.resources import files
from typing import Any

import zstandard
from sqlalchemy import LargeBinary, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

TAG_V1 = 1
# Zstandard's level: 3 packs a row in ~10 µs; higher levels gain a byte or two per row for twice the time.
LEVEL = 3
_dictionary = zstandard.ZstdCompressionDict(
    files("console.core").joinpath("packing-v1.zdict").read_bytes(), dict_type=zstandard.DICT_TYPE_FULLDICT
)
_parameters = zstandard.ZstdCompressionParameters.from_level(
    LEVEL, format=zstandard.FORMAT_ZSTD1_MAGICLESS, write_content_size=1, write_checksum=0, write_dict_id=0
)
_dictionary.precompute_compress(compression_params=_parameters)
# A compressor or decompressor serves one thread at a time: each thread (the store's, a reader's) has its own.
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(dict_data=_dictionary, compression_params=_parameters)
    return compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor(
            dict_data=_dictionary, format=zstandard.FORMAT_ZSTD1_MAGICLESS
        )
    return decompressor


def pack(text: str) -> bytes:
    """The stored form of `text`: compressed, or the text's own bytes when that is no larger."""
    raw = text.encode()
    packed = _compressor().compress(raw)
    if len(packed) + 1 < len(raw) or (raw[:1] == bytes([TAG_V1])):
        return bytes([TAG_V1]) + packed
    return raw


def unpack(value: bytes | str) -> str:
    """The text of a stored value (compressed, its plain bytes, or text written before compression)."""
    if isinstance(value, str):
        return value
    if value[:1] == bytes([TAG_V1]):
        return _decompressor().decompress(value[1:]).decode()
    return bytes(value).decode()


class PackedText(TypeDecorator[str]):
    """Text stored packed: bytes on PostgreSQL (bytea); on SQLite a BLOB in the column declared TEXT as before,
    beside the text rows written before (SQLite keeps each value's own type)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(LargeBinary() if dialect.name == "postgresql" else Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        # Bytes are packed already (a batch the writer retries was bound in place the first time).
        return pack(value) if isinstance(value, str) else value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return unpack(value) if value is not None else None
