"""厦门 (Xiamen) region: rules from ../shared/seeds/002_fb6811038571c536.txt."""

from pathlib import Path

from core.regiondata import DataRegion, load_region_data

CODE = "xiamen"


class Xiamen(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""


plugin = Xiamen(load_region_data(Path(__file__).with_name("region.toml")))
