"""``eportcard agent trust``: make this PC's browsers trust the agent's local CA, and undo it.

Three places, each optional and each reversible (``remove``):

- the system store: the CA as ``eportcard-agent-ca.crt`` in ``/usr/local/share/ca-certificates`` and
  ``update-ca-certificates`` (Debian's ca-certificates; update-ca-certificates(8)); needs root;
- the NSS databases of the user's browsers: Chromium's ``~/.pki/nssdb`` (made if missing) and every
  Firefox profile holding a ``cert9.db``, through ``certutil -A -t "C,,"`` (trusted to issue server
  certificates) and ``certutil -D`` (NSS certutil, Debian package libnss3-tools);
- the hosts file: ``127.0.0.1 wss.singlewindow.cn`` (the official installer's mapping, docs/agent.md),
  printed for the user to add, or written with ``hosts=True``; our line carries a marker so it can be
  taken out again.

Every path hangs off ``root`` (the file system root, ``/``) and ``home`` so tests run against a
temporary tree instead of the machine's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from attrs import field, frozen

from core.errors import ConfigError

from .tls import OFFICIAL_HOST, LocalTls

NICKNAME = "eportcard agent local CA"
SYSTEM_FILE = "eportcard-agent-ca.crt"
HOSTS_MARK = "# eportcard agent"
HOSTS_LINE = f"127.0.0.1 {OFFICIAL_HOST} {HOSTS_MARK}"


@frozen
class TrustPlaces:
    root: Path = Path("/")
    home: Path = field(factory=Path.home)

    @property
    def system_dir(self) -> Path:
        return self.root / "usr/local/share/ca-certificates"

    @property
    def hosts_file(self) -> Path:
        return self.root / "etc/hosts"

    def update_command(self) -> list[str]:
        """update-ca-certificates; pointed at the tree under ``root`` when that is not ``/``."""
        if self.root == Path("/"):
            return ["update-ca-certificates"]
        for folder in ("etc/ssl/certs", "etc/ca-certificates/update.d", "usr/share/ca-certificates"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "etc/ca-certificates.conf").touch()
        return ["update-ca-certificates", "--certsconf", str(self.root / "etc/ca-certificates.conf"),
                "--certsdir", str(self.root / "usr/share/ca-certificates"),
                "--localcertsdir", str(self.system_dir), "--etccertsdir", str(self.root / "etc/ssl/certs"),
                "--hooksdir", str(self.root / "etc/ca-certificates/update.d")]

    def nss_databases(self, *, create_chromium: bool) -> Iterator[Path]:
        """Chromium's shared NSS database and Firefox's profile databases under ``home``."""
        chromium = self.home / ".pki" / "nssdb"
        if create_chromium or (chromium / "cert9.db").exists():
            yield chromium
        for firefox in (self.home / ".mozilla" / "firefox", self.home / "snap/firefox/common/.mozilla/firefox"):
            if firefox.is_dir():
                yield from sorted(db.parent for db in firefox.glob("*/cert9.db"))


def _require(tool: str) -> None:
    """Checked before anything is touched, so a missing tool changes nothing."""
    if shutil.which(tool) is None:
        package = "libnss3-tools" if tool == "certutil" else "ca-certificates"
        raise ConfigError(f"找不到 {tool}：请安装 {package}（apt-get install {package}）",
                          f"{tool} is missing: install {package} (apt-get install {package})", field="agent.trust")


def _run(command: list[str], what: tuple[str, str]) -> str:
    _require(command[0])
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if run.returncode != 0:
        detail = (run.stderr or run.stdout).strip()
        raise ConfigError(f"{what[0]}失败：{detail}", f"{what[1]} failed: {detail}", field="agent.trust")
    return run.stdout


def _needs_root(places: TrustPlaces, target: Path) -> None:
    if places.root == Path("/") and os.geteuid() != 0 and not os.access(target, os.W_OK):
        raise ConfigError(f"写入 {target} 需要管理员权限：请用 sudo 运行，或加 --no-system",
                          f"writing {target} needs root: run it with sudo, or add --no-system",
                          field="agent.trust")


# -- the system store -------------------------------------------------------------------------------


def trust_system(tls: LocalTls, places: TrustPlaces) -> Path:
    target = places.system_dir / SYSTEM_FILE
    _require("update-ca-certificates")
    _needs_root(places, places.system_dir if places.system_dir.exists() else places.root)
    places.system_dir.mkdir(parents=True, exist_ok=True)
    target.write_bytes(tls.ca_path.read_bytes())
    _run(places.update_command(), ("更新系统证书库", "update-ca-certificates"))
    return target


def untrust_system(places: TrustPlaces) -> Path | None:
    target = places.system_dir / SYSTEM_FILE
    if not target.exists():
        return None
    _require("update-ca-certificates")
    _needs_root(places, places.system_dir)
    target.unlink()
    _run([*places.update_command(), "--fresh"], ("更新系统证书库", "update-ca-certificates"))
    return target


# -- the browsers' NSS databases ----------------------------------------------------------------------


def _nss(database: Path) -> str:
    return f"sql:{database}"


def _has_nickname(database: Path) -> bool:
    run = subprocess.run(["certutil", "-L", "-d", _nss(database), "-n", NICKNAME], capture_output=True,
                         text=True, timeout=60, check=False)
    return run.returncode == 0


def trust_nss(tls: LocalTls, places: TrustPlaces) -> list[Path]:
    _require("certutil")
    done = []
    for database in places.nss_databases(create_chromium=True):
        if not (database / "cert9.db").exists():
            database.mkdir(parents=True, exist_ok=True, mode=0o700)
            _run(["certutil", "-N", "-d", _nss(database), "--empty-password"],
                 ("建立NSS证书库", "creating the NSS database"))
        if _has_nickname(database):  # an earlier CA of this PC: replace it
            _run(["certutil", "-D", "-d", _nss(database), "-n", NICKNAME], ("移除旧证书", "removing the old CA"))
        _run(["certutil", "-A", "-d", _nss(database), "-n", NICKNAME, "-t", "C,,", "-i", str(tls.ca_path)],
             ("向浏览器证书库添加本地CA", "adding the local CA to the browser database"))
        _give_back(database, places.home)
        done.append(database)
    return done


def untrust_nss(places: TrustPlaces) -> list[Path]:
    _require("certutil")
    done = []
    for database in places.nss_databases(create_chromium=False):
        while _has_nickname(database):  # every copy, should it have been added twice by hand
            _run(["certutil", "-D", "-d", _nss(database), "-n", NICKNAME],
                 ("从浏览器证书库移除本地CA", "removing the local CA from the browser database"))
            done.append(database)
    return done


def _give_back(database: Path, home: Path) -> None:
    """Run as root for a user's home (sudo ... --home ~user): the database stays the user's."""
    if os.geteuid() != 0:
        return
    owner = home.stat()
    if owner.st_uid == 0:
        return
    for path in (database, *database.iterdir()):
        os.chown(path, owner.st_uid, owner.st_gid)


# -- the hosts file -----------------------------------------------------------------------------------


def hosts_has_entry(places: TrustPlaces) -> bool:
    try:
        lines = places.hosts_file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return False
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[0] in ("127.0.0.1", "::1") and OFFICIAL_HOST in fields[1:]:
            return True
    return False


def add_hosts_entry(places: TrustPlaces) -> bool:
    """Append our line unless the name already maps to loopback; False when nothing was written."""
    if hosts_has_entry(places):
        return False
    _needs_root(places, places.hosts_file)
    text = places.hosts_file.read_text(encoding="utf-8") if places.hosts_file.exists() else ""
    places.hosts_file.parent.mkdir(parents=True, exist_ok=True)
    places.hosts_file.write_text(text + ("" if text.endswith("\n") or not text else "\n") + HOSTS_LINE + "\n",
                                 encoding="utf-8")
    return True


def remove_hosts_entry(places: TrustPlaces) -> bool:
    """Take out the line ``add_hosts_entry`` wrote (and only that one)."""
    if not places.hosts_file.exists():
        return False
    lines = places.hosts_file.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.rstrip().endswith(HOSTS_MARK)]
    if kept == lines:
        return False
    _needs_root(places, places.hosts_file)
    places.hosts_file.write_text("".join(kept), encoding="utf-8")
    return True
