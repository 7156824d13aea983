"""Password hashes use one Argon2 lane, so one check takes one core (the reference implementation runs a
thread per lane) and the limit on checks at once bounds the cores logins may take; hashes made earlier
with four lanes still verify."""

from __future__ import annotations

from argon2 import PasswordHasher

from core.services.accounts import hash_password, verify_password


def test_new_hashes_have_one_lane_and_the_library_defaults_otherwise():
    made = hash_password("Correct-horse-1")
    assert made.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    assert verify_password(made, "Correct-horse-1") and not verify_password(made, "Correct-horse-2")


def test_hashes_made_with_four_lanes_still_verify():
    earlier = PasswordHasher(parallelism=4).hash("Correct-horse-1")
    assert ",p=4$" in earlier
    assert verify_password(earlier, "Correct-horse-1") and not verify_password(earlier, "wrong-horse-1")
