"""深圳 (Shenzhen) region: rules from ../shared/seeds/000_acc9b246733ddaa2.txt."""

from pathlib import Path

from core.regiondata import DataRegion, load_region_data

CODE = "shenzhen"


class Shenzhen(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""


plugin = Shenzhen(load_region_data(Path(__file__).with_name("region.toml")))
