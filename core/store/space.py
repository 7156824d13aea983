"""A full disk, told apart from other failures wherever the store writes: a blob, a SQLite commit, a
PostgreSQL one. Each becomes the same clear, bilingual :class:`~core.errors.Unavailable` (HTTP 503):
nothing was changed, try again later. Once space returns the next write simply works.

Recognised: ``ENOSPC`` and ``EDQUOT`` from the file system (errno(3)); SQLite's ``SQLITE_FULL`` (13,
https://www.sqlite.org/rescode.html#full); PostgreSQL's SQLSTATE ``53100 disk_full`` (PostgreSQL docs,
Appendix A "Error Codes").
"""

from __future__ import annotations

import errno
import sqlite3

from core.errors import Unavailable

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or the driver error a SQLAlchemy error wraps) says the disk is full."""
    driver = getattr(exc, "orig", None) or exc
    if isinstance(driver, OSError):
        return driver.errno in _FULL_ERRNOS
    if isinstance(driver, sqlite3.Error):
        return getattr(driver, "sqlite_errorcode", None) == _SQLITE_FULL
    return getattr(driver, "sqlstate", None) == _PG_DISK_FULL


def storage_full(field: str) -> Unavailable:
    return Unavailable("服务器存储空间已满，未做任何更改：请稍后重试，并请告知分中心管理员",
                       "the server's storage is full and nothing was changed: try again later, and please tell "
                       "the branch centre's administrator", field=field)


__all__ = ["is_disk_full", "storage_full"]
