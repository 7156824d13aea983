"""Every text field of the model has a maximum length, and the domain's own actions refuse a longer value
(so the CLI, the API and the portal, which all end in them, do too); JSON and TOML nest at most 32 deep."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime

import attrs
import pytest

from core import lifecycle, model
from core.convert import MAX_NESTING, parse_json
from core.errors import InvalidInput, Problems
from core.model import Application, AppState, MailAddress, PickupChoice
from core.model.limits import MAX_LENGTH, overlong
from core.samples import make_enrol

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _holds_text(hint: object) -> bool:
    if hint is str:
        return True
    return any(_holds_text(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)


def test_every_text_field_of_every_model_class_has_a_maximum_length():
    classes = [c for c in vars(model).values() if isinstance(c, type) and attrs.has(c)]
    assert len(classes) >= 12
    for cls in classes:
        text = {name for name, hint in typing.get_type_hints(cls).items() if _holds_text(hint)}
        assert set(MAX_LENGTH.get(cls, {})) == text, cls.__name__
        assert all(0 < n <= 2000 for n in MAX_LENGTH.get(cls, {}).values())


def test_overlong_names_the_path_of_each_too_long_value_and_passes_enum_values():
    app = make_enrol(1)
    assert overlong(app) == []
    holder = attrs.evolve(app.items[0].holder, name="名" * 101)
    bad = attrs.evolve(app, items=(attrs.evolve(app.items[0], holder=holder),), remarks="x" * 1001,
                       pickup=PickupChoice(mail_to=MailAddress("r", "1", "址" * 201)))
    found = overlong(bad)
    assert [p.field for p in found] == ["items[1].holder.name", "pickup.mail_to.address", "remarks"]
    assert [re.search(r"it has (\d+)", p.en).group(1) for p in found] == ["101", "201", "1001"]


def test_the_domains_actions_refuse_too_long_values_and_return_nothing():
    app = make_enrol(1)
    with pytest.raises(InvalidInput) as one:
        lifecycle.edit(app, remarks="x" * 1001)
    assert one.value.field == "remarks" and "1000" in one.value.zh
    with pytest.raises(Problems):
        lifecycle.edit(app, remarks="x" * 1001, making_centre="c" * 65)
    assert lifecycle.edit(app, remarks="x" * 1000).remarks == "x" * 1000
    submitted = attrs.evolve(app, state=AppState.SUBMITTED)
    with pytest.raises(InvalidInput, match="note"):
        lifecycle.withdraw(submitted, "ent", NOW, note="n" * 2001)
    done = attrs.evolve(app, state=AppState.COMPLETED, pickup=PickupChoice(method=model.Pickup.MAIL))
    with pytest.raises(InvalidInput, match="tracking_no"):
        lifecycle.deliver(done, "ship", "clerk", NOW, tracking_no="9" * 33)


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 2000, 100_000])
def test_json_nested_too_deep_is_invalid_input_not_a_recursion_error(depth):
    with pytest.raises(InvalidInput, match=str(MAX_NESTING)):
        parse_json("[" * depth + "]" * depth)


def test_json_within_the_nesting_limit_parses_and_malformed_json_stays_a_value_error():
    assert parse_json("[" * MAX_NESTING + "]" * MAX_NESTING) is not None
    with pytest.raises(ValueError):
        parse_json("{")


def test_the_application_aggregate_itself_is_unchanged():
    # The limits are checked by the domain's actions, not by the classes: rows stored before the limits
    # existed still load.
    assert Application(id="x", enterprise=make_enrol(1).enterprise, business=model.Business.ENROL,
                       region="shenzhen", remarks="x" * 5000).remarks == "x" * 5000
