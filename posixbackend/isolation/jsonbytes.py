"""Bytes in the batch command's JSON lines: a string when they are UTF-8, else base64.

One rule for every byte field, in jobs (files, stdin) and in results (stdout, stderr,
files): bytes that decode as strict UTF-8 are written as that JSON string; any other bytes
as the object ``{"base64": "..."}`` (standard alphabet, padded). A reader turns a string
back into its UTF-8 encoding and the object into its decoded bytes, so every value round-trips
exactly and plain text stays readable.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

BASE64 = "base64"
"""The one key of the object form."""


def encode_bytes(data: bytes) -> str | dict[str, str]:
    """``data`` in its JSON form: the text when it is UTF-8, else ``{"base64": ...}``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {BASE64: base64.b64encode(data).decode("ascii")}


def decode_bytes(value: Any, what: str) -> bytes:
    """The bytes a JSON value of :func:`encode_bytes`'s form stands for; ValueError naming
    ``what`` when it is neither a string nor a ``{"base64": ...}`` object of valid base64."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a \\udXXX escape
            raise ValueError(f"{what}: the text is not valid Unicode (lone surrogate)") from None
    if isinstance(value, dict) and set(value) == {BASE64} and isinstance(value[BASE64], str):
        try:
            return base64.b64decode(value[BASE64], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{what}: not valid base64") from None
    raise ValueError(f'{what} must be a string or {{"base64": "..."}}, not {_shown(value)}')


def _shown(value: Any) -> str:
    """A JSON value's type, as a message names it."""
    names = {dict: "an object", list: "an array", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)
