"""西安 (Xi'an) region: rules from ../shared/seeds/004_7ce9fda768e2b8de.txt."""

from pathlib import Path

from core.regiondata import DataRegion, load_region_data

CODE = "xian"


class Xian(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""


plugin = Xian(load_region_data(Path(__file__).with_name("region.toml")))
