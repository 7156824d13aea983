"""What happens to our sessions from outside: the module called through a second handle (ctypes), as a
restarting HSM or another program with the token would. dlopen hands back the module this process
already has, so these calls reach the very sessions and login the signer holds (PKCS#11 v2.40 5.6:
C_CloseAllSessions; 5.6/5.4 C_Logout ends the login of every session of the application)."""

from __future__ import annotations

import ctypes

import pkcs11

CKF_RW_SESSION, CKF_SERIAL_SESSION = 0x2, 0x4  # PKCS#11 v2.40 5.6, C_OpenSession flags
CKU_USER = 1
CKR_OK = 0


class Outside:
    def __init__(self, module: str, token: str) -> None:
        self.lib = ctypes.CDLL(module)
        self.slot = ctypes.c_ulong(pkcs11.lib(module).get_token(token_label=token).slot.slot_id)

    def _check(self, rv: int, what: str) -> None:
        assert rv == CKR_OK, f"{what}: CKR 0x{rv:x}"

    def _session(self, rw: bool = False) -> ctypes.c_ulong:
        handle = ctypes.c_ulong()
        flags = CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0)
        self._check(self.lib.C_OpenSession(self.slot, ctypes.c_ulong(flags), None, None, ctypes.byref(handle)),
                    "C_OpenSession")
        return handle

    def close_all_sessions(self) -> None:
        """Every session of this process on the token gone, and with the last one the login."""
        self._check(self.lib.C_CloseAllSessions(self.slot), "C_CloseAllSessions")

    def logout(self) -> None:
        """The login gone, the sessions still open."""
        handle = self._session()
        self._check(self.lib.C_Logout(handle), "C_Logout")
        self._check(self.lib.C_CloseSession(handle), "C_CloseSession")

    def change_pin(self, old: str, new: str) -> None:
        """The user PIN changed (the process must be logged in, as the signer keeps it)."""
        handle = self._session(rw=True)
        self._check(self.lib.C_SetPIN(handle, old.encode(), ctypes.c_ulong(len(old)), new.encode(),
                                      ctypes.c_ulong(len(new))), "C_SetPIN")
        self._check(self.lib.C_CloseSession(handle), "C_CloseSession")

    def login(self, pin: str) -> ctypes.c_ulong:
        handle = self._session(rw=True)
        self._check(self.lib.C_Login(handle, ctypes.c_ulong(CKU_USER), pin.encode(), ctypes.c_ulong(len(pin))),
                    "C_Login")
        return handle
