"""Spanish for the texts pukara shows but does not write: Typer's, its Click's and pydantic's.

The translations live in a gettext catalogue shipped with the package
(``pukara/locale/es/LC_MESSAGES/pukara.po``, compiled to ``.mo`` by
``python -m pukara.i18n``). Spanish is what every user reads, so the catalogue is used
whatever the ``LANG`` of the shell or the service.

Typer builds most of its messages with f-strings, so they reach pukara already formatted
(``No such option: --nope``). :data:`TEMPLATES` lists their shapes; :func:`translate` finds
the one a message has and fills the Spanish form with the same pieces.
"""

from __future__ import annotations

import gettext
import re
import warnings
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "pukara"
LANGUAGE = "es"


class MissingCatalogueWarning(RuntimeWarning):
    """The compiled catalogue (``.mo``) is not installed: Typer's texts stay in English."""


def load_catalogue(folder: Path = LOCALE_DIR) -> gettext.NullTranslations:
    """The Spanish catalogue; without it (a broken install), English and a warning.

    The warning is a :class:`MissingCatalogueWarning`: the tests turn every warning into an
    error, so a package built without its ``.mo`` cannot pass them unnoticed.
    """
    try:
        return gettext.translation(DOMAIN, folder, languages=[LANGUAGE])
    except OSError:
        mo = folder / LANGUAGE / "LC_MESSAGES" / f"{DOMAIN}.mo"
        warnings.warn(
            f"pukara: falta el catálogo de traducciones {mo}; los textos de Typer se muestran "
            "en inglés. Reinstale pukara (o ejecute: python -m pukara.i18n).",
            MissingCatalogueWarning,
            stacklevel=2,
        )
        return gettext.NullTranslations()


_catalog = load_catalogue()


def _(message: str) -> str:
    """``message`` in Spanish, from the catalogue (as it is when the catalogue lacks it)."""
    return _catalog.gettext(message) if message else message  # "" is the catalogue's header


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark a text for the catalogue without translating it yet."""
    return message


# The shapes of the messages Typer (0.29, with its own copy of Click) and pydantic build.
# The more specific shape goes first ("{name}" matches as little text as it can), and a
# shape that starts with a piece goes last.
TEMPLATES: tuple[str, ...] = (
    N_("Value error, {message}"),
    N_("{message}. Did you mean {suggestions}?"),
    N_("No such command {name}."),
    N_("No such option: {name} (Possible options: {options})"),
    N_("No such option: {name}"),
    N_("Missing command."),
    N_("Missing argument {name}. Choose from:\n\t{choices}"),
    N_("Missing option {name}. Choose from:\n\t{choices}"),
    N_("Missing parameter {name}. Choose from:\n\t{choices}"),
    N_("Missing argument {name}."),
    N_("Missing option {name}."),
    N_("Missing parameter {name}."),
    N_("Missing parameter: {name}"),
    N_("Invalid value for {name}: {message}"),
    N_("Invalid value: {message}"),
    N_("Option {name} requires an argument."),
    N_("Option {name} requires {count} arguments."),
    N_("Option {name} does not take a value."),
    N_("Argument {name} takes {count} values."),
    N_("Got unexpected extra argument ({args})"),
    N_("Got unexpected extra arguments ({args})"),
    N_("Got unexpected extra argument(s) ({args})"),
    N_("Value {value} is not a valid {kind}."),
    N_("Value must be an iterable."),
    N_("file {name} does not exist."),
    N_("dir {name} does not exist."),
    N_("path {name} does not exist."),
    N_("file {name} is a directory."),
    N_("path {name} is a directory."),
    N_("dir {name} is a file."),
    N_("path {name} is a file."),
    N_("file {name} is not readable."),
    N_("dir {name} is not readable."),
    N_("path {name} is not readable."),
    N_("file {name} is not writable."),
    N_("dir {name} is not writable."),
    N_("path {name} is not writable."),
    N_("Input should be a valid integer, unable to parse string as an integer"),
    N_("Input should be a valid integer, got a number with a fractional part"),
    N_("Input should be a valid integer"),
    N_("Input should be a valid number, unable to parse string as a number"),
    N_("Input should be a valid number"),
    N_("Input should be a finite number"),
    N_("Input should be a valid boolean, unable to interpret input"),
    N_("Input should be a valid boolean"),
    N_("Input should be a valid string"),
    N_("Input should be greater than or equal to {limit}"),
    N_("Input should be greater than {limit}"),
    N_("Input should be less than or equal to {limit}"),
    N_("Input should be less than {limit}"),
    N_("Input should be a valid datetime or date, {detail}"),
    N_("Input should be a valid datetime, {detail}"),
    N_("Input should be a valid date, {detail}"),
    N_("Input should be a valid UUID, {detail}"),
    N_("Aborted!"),
    N_("Aborted."),
    N_("{value} is not one of {choices}."),
)
_NESTED = frozenset({"message"})  # pieces that are themselves a message to translate


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    compiled = []
    for template in TEMPLATES:
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
        )
        compiled.append((re.compile(regex + r"\Z", re.DOTALL), template))
    return tuple(compiled)


def translate(text: str) -> str:
    """A message built by Typer, Click or pydantic, in Spanish (as it is when not known)."""
    for regex, template in _patterns():
        found = regex.match(text)
        if found is not None:
            pieces = {k: translate(v) if k in _NESTED else v for k, v in found.groupdict().items()}
            if "choices" in pieces:  # Click lists them one per line: ",\n\t"
                pieces["choices"] = ", ".join(c.strip() for c in pieces["choices"].split(","))
            return _(template).format(**pieces)
    return text


def compile_catalogue(po_file: Path) -> bytes:
    """The ``.mo`` bytes for ``po_file`` (Babel's compiler, as ``pybabel compile`` uses)."""
    from io import BytesIO

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_file.open("rb") as fh:
        catalogue = read_po(fh, locale=LANGUAGE, domain=DOMAIN)
    out = BytesIO()
    write_mo(out, catalogue, use_fuzzy=False)
    return out.getvalue()


def catalogue_files() -> tuple[Path, Path]:
    folder = LOCALE_DIR / LANGUAGE / "LC_MESSAGES"
    return folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"


if __name__ == "__main__":  # python -m pukara.i18n: compile the catalogue after editing it
    po, mo = catalogue_files()
    mo.write_bytes(compile_catalogue(po))
