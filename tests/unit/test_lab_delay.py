from lab.manage import path_delay_ms
from lab.sites import LabSite


def test_a_site_behind_a_hub_answers_after_both_links_delays() -> None:
    hub = LabSite(index=3981, code="h", delay_ms=40)
    child = LabSite(index=3982, code="c", delay_ms=20, parent="h")
    grandchild = LabSite(index=3983, code="g", delay_ms=5, parent="c")
    sites = {s.code: s for s in (hub, child, grandchild)}
    assert path_delay_ms(hub, sites) == 40
    assert path_delay_ms(child, sites) == 60
    assert path_delay_ms(grandchild, sites) == 65
