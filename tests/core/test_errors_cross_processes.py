"""Our errors survive the trip back from a worker process (pickle), whatever their __init__ takes:
a multiprocessing pool whose task raised one used to hang, unable to rebuild it."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest

from core.errors import ConfigError, EportError, InvalidInput, Problems
from core.hardware.errors import CardError
from core.plugin_faults import PluginFailed

EXAMPLES = [
    InvalidInput("身份证号有误", "the ID number is wrong", field="holder.id"),
    ConfigError("配置有误", "the config is wrong", field="pki.algorithm"),
    Problems([InvalidInput("缺少名称", "name missing", field="name"),
              InvalidInput("缺少电话", "phone missing", field="phone")]),
]


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_a_pickled_error_comes_back_equal(error: EportError):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and back.as_dict() == error.as_dict() and str(back) == str(error)


def test_every_error_class_in_core_pickles():
    classes = {InvalidInput, ConfigError, Problems, CardError, PluginFailed, *_subclasses(EportError)}
    for cls in classes:
        error = cls.__new__(cls)  # no __init__ to call for an arbitrary subclass: fill what as_dict reads
        EportError.__init__(error, "中文", "English", field="f")
        back = pickle.loads(pickle.dumps(error))
        assert (type(back), back.zh, back.en, back.field) == (cls, "中文", "English", "f")


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(c) for c in found)) if found else found


def _refuse(n: int) -> int:
    raise InvalidInput(f"第 {n} 项有误", f"item {n} is wrong", field=f"items[{n}]")


def test_a_pool_task_that_raises_our_error_reports_it_instead_of_hanging():
    with multiprocessing.get_context("spawn").Pool(1) as pool, pytest.raises(InvalidInput) as caught:
        pool.apply_async(_refuse, (3,)).get(timeout=120)
    assert caught.value.field == "items[3]" and caught.value.en == "item 3 is wrong"
