"""A hypothesis state machine over the card's PIN: the card must agree with a tiny model at every step.

Invariants: tries never below 0 or above the limit; blocked iff tries == 0; pin_is_initial true
exactly when the PIN is 88888888 put there by issuance or unlock. Runs in-process and via pcscd.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from core.hardware import profile as p
from core.hardware.errors import CardBlocked, PinRefused, WrongPin

CANDIDATE_PINS = st.one_of(st.sampled_from([p.INITIAL_PIN, "123456", "13572468", "9999999999", "12345",
                                            "1234567890123456"]),
                           st.text("0123456789", min_size=5, max_size=17))


def test_pin_state_machine(rig):
    driver = rig.start()
    limit = 3
    examples = 100 if rig.kind == "inprocess" else 50

    class PinMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            driver.reset_retry_counter(rig.admin_key)  # every example starts from a freshly unlocked card
            self.pin, self.tries, self.initial = p.INITIAL_PIN, limit, True

        @rule(use_current=st.booleans(), other=CANDIDATE_PINS)
        def verify(self, use_current, other):
            pin = self.pin if use_current else other
            if not p.is_valid_pin(pin):
                with pytest.raises(PinRefused):
                    driver.verify_pin(pin)
            elif self.tries == 0:
                with pytest.raises(CardBlocked):
                    driver.verify_pin(pin)
            elif pin == self.pin:
                driver.verify_pin(pin)
                self.tries = limit
            else:
                with pytest.raises(WrongPin) as wrong:
                    driver.verify_pin(pin)
                self.tries -= 1
                assert wrong.value.tries_left == self.tries

        @rule(use_current=st.booleans(), old=CANDIDATE_PINS, new=CANDIDATE_PINS)
        def change(self, use_current, old, new):
            old = self.pin if use_current else old
            refused = (not p.is_valid_pin(old) or not p.is_valid_pin(new) or new == p.INITIAL_PIN
                       or new == old)
            if refused:
                with pytest.raises(PinRefused):
                    driver.change_pin(old, new)
            elif self.tries == 0:
                with pytest.raises(CardBlocked):
                    driver.change_pin(old, new)
            elif old != self.pin:
                with pytest.raises(WrongPin):
                    driver.change_pin(old, new)
                self.tries -= 1
            else:
                driver.change_pin(old, new)
                self.pin, self.tries, self.initial = new, limit, False

        @rule()
        def unlock(self):
            driver.reset_retry_counter(rig.admin_key)
            self.pin, self.tries, self.initial = p.INITIAL_PIN, limit, True

        @rule()
        def reselect(self):
            driver.select()  # a new session: verification is forgotten, the counter is not

        @invariant()
        def card_agrees_with_model(self):
            info = driver.card_info()
            assert 0 <= info.tries_left <= info.retry_limit == limit
            assert info.tries_left == self.tries
            assert info.blocked == (info.tries_left == 0)
            assert info.pin_is_initial == self.initial
            assert driver.pin_tries_left() == self.tries

    run_state_machine_as_test(PinMachine, settings=settings(
        max_examples=examples, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
