"""Subcomandos de `pukara red`."""

import typer

from red import cli_cumplimiento, cli_remediar, cli_respaldo

app = typer.Typer(
    help=(
        "Equipos de red: respaldo de configuraciones en git, historial, diferencias y búsqueda, "
        "cumplimiento de la configuración dorada y remediación segura."
    ),
    no_args_is_help=True,
)

cli_respaldo.register(app)  # respaldar, historial, diff, buscar
cli_cumplimiento.register(app)  # cumplimiento
cli_remediar.register(app)  # remediar


@app.callback()
def _settings(ctx: typer.Context) -> None:
    # the ministry's golden templates ([red] plantillas), for cumplimiento and remediar alike
    from red import intencion

    intencion.use_templates(ctx.obj.red_plantillas if ctx.obj is not None else None)
