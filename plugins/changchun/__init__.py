"""长春 (Changchun) region: rules from ../shared/seeds/001_56e603108c85a312.txt."""

from pathlib import Path

from core.regiondata import DataRegion, load_region_data

CODE = "changchun"


class Changchun(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""


plugin = Changchun(load_region_data(Path(__file__).with_name("region.toml")))
