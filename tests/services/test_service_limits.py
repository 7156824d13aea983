"""The application service refuses what the region does not define and text over its length, storing
nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import attrs
import pytest

from core.errors import InvalidInput
from core.model import Business
from core.samples import make_enrol
from core.services import Actor

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def ent(app):
    return Actor(id="admin", kind="enterprise", uscc=app.enterprise.uscc)


def stored(services, app_id):
    with services.store.transaction(readonly=True) as tx:
        files = [p for p in services.settings.blob_dir.rglob("*") if p.is_file()]
        return tx.applications.get(app_id), tx.attachments.for_application(app_id), files


@pytest.mark.parametrize("material", ["no_such_material", "m" * 900_000, ""], ids=["unknown", "900kB", "empty"])
def test_an_attachment_for_a_material_the_region_does_not_define_is_refused(services, material):
    app = services.applications.create(make_enrol(1, "testland"), ent(make_enrol(1, "testland")))
    before = stored(services, app.id)
    with pytest.raises(InvalidInput) as refused:
        services.applications.attach(app.id, material, "licence.png", PNG, ent(app))
    assert refused.value.field == "material"
    assert "licence（营业执照）" in refused.value.zh and "licence (Licence)" in refused.value.en
    assert len(str(refused.value)) < 500  # the refused value is not repeated back
    assert stored(services, app.id) == before
    assert services.applications.attach(app.id, "licence", "licence.png", PNG, ent(app)).material == "licence"


def test_a_business_without_materials_takes_no_attachment(services):
    sample = attrs.evolve(make_enrol(1, "testland"), business=Business.ADD_CARD, items=())
    app = services.applications.create(sample, ent(sample))
    with pytest.raises(InvalidInput, match="takes no uploaded materials"):
        services.applications.attach(app.id, "licence", "licence.png", PNG, ent(app))


def test_a_file_name_over_its_length_is_refused(services):
    app = services.applications.create(make_enrol(1, "testland"), ent(make_enrol(1, "testland")))
    before = stored(services, app.id)
    with pytest.raises(InvalidInput) as refused:
        services.applications.attach(app.id, "licence", "x" * 300 + ".png", PNG, ent(app))
    assert refused.value.field == "filename"
    assert stored(services, app.id) == before


def test_a_draft_with_too_long_text_is_not_stored_and_preflight_names_it(services):
    sample = attrs.evolve(make_enrol(1, "testland"), remarks="备" * 1001)
    assert "remarks" in {p.field for p in services.applications.preflight(sample)}
    with pytest.raises(InvalidInput) as refused:
        services.applications.create(sample, ent(sample))
    assert refused.value.field == "remarks"
    with services.store.transaction(readonly=True) as tx:
        assert tx.applications.find(enterprise=sample.enterprise.uscc) == []
