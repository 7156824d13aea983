"""杭州 (Hangzhou) region: rules from ../shared/seeds/003_894e1885d52798d3.txt."""

from pathlib import Path

from core.regiondata import DataRegion, load_region_data

CODE = "hangzhou"


class Hangzhou(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""


plugin = Hangzhou(load_region_data(Path(__file__).with_name("region.toml")))
