"""Page numbers from ?page= are always a usable page: 1..MAX_PAGE (a huge one once overflowed SQLite)."""

import pytest

from core.web.render import MAX_PAGE, page_number


@pytest.mark.parametrize(("raw", "page"), [
    (None, 1), ("", 1), ("0", 1), ("-3", 1), ("abc", 1), (" 7 ", 7), ("2", 2),
    (str(MAX_PAGE), MAX_PAGE), ("9" * 40, MAX_PAGE), ("1e9", 1),
])
def test_page_number(raw, page):
    assert page_number(raw) == page
