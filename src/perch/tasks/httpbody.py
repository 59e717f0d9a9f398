"""Request bodies and header lists of the HTTP tasks' client: multipart forms as browsers
write them (names and file names percent-escaped, so no value can break out of its header).
"""

from __future__ import annotations

from collections.abc import Sequence


def _form_quoted(text: str) -> str:
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def multipart_body(
    fields: dict[str, str], files: Sequence[tuple[str, tuple[str, bytes, str]]], boundary: str
) -> bytes:
    """A ``multipart/form-data`` body: the text ``fields``, then the ``files`` as
    ``(field name, (file name, content, media type))``."""
    body = bytearray()
    for name, value in fields.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_form_quoted(name)}"\r\n\r\n'
        ).encode()
        body += value.encode() + b"\r\n"
    for name, (filename, content, kind) in files:
        body += (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{_form_quoted(name)}"; filename="{_form_quoted(filename)}"\r\n'
            f"Content-Type: {kind}\r\n\r\n"
        ).encode()
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body)


def has_header(headers: list[tuple[str, str]], name: str) -> bool:
    """Whether ``headers`` hold ``name`` (given in lower case), in any case."""
    return any(key.lower() == name for key, _ in headers)


def without_headers(headers: list[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    """``headers`` less those named ``names`` (given in lower case)."""
    return [(key, value) for key, value in headers if key.lower() not in names]
