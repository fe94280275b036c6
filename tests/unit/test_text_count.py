"""Counts in messages agree with their figure: «1 cambio», «2 cambios», «0 cambios»."""

from __future__ import annotations

from pukara.text import count


def test_count_takes_the_singular_only_for_one_and_formats_the_figure() -> None:
    assert count(1, "cambio aplicado", "cambios aplicados") == "1 cambio aplicado"
    assert count(0, "cambio", "cambios") == "0 cambios"
    assert count(2, "error", "errores") == "2 errores"
    assert count(1234, "objetivo", "objetivos") == "1,234 objetivos"
