"""Secret files (the CA key, the card master secret, the audit key): owner-only from the first byte,
and never overwritten (losing one of them loses what it protects)."""

from __future__ import annotations

import os

from core.errors import InvalidInput


def create_private_file(path: str | os.PathLike[str], data: bytes, *, what: tuple[str, str], field: str) -> None:
    """Create ``path`` with ``data``, mode 0600 from creation (O_EXCL: there is no readable moment);
    ``InvalidInput`` naming ``what`` (zh, en) when it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{what[0]}已存在：{path}，不会覆盖",
                           f"{what[1]} already exists at {path}; it will not be overwritten", field=field) from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


__all__ = ["create_private_file"]
