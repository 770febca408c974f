"""CLI commands: ``flask seed``."""
import click

from portal.seed import seed_demo_data


def register_commands(app):
    """Attach the CLI commands to the app."""

    @app.cli.command("seed")
    @click.option("--if-empty", is_flag=True, help="Only seed a database with no users.")
    def seed(if_empty):
        """Create the demo landlords, tenancies, contractor firm and users (idempotent)."""
        created = seed_demo_data(only_if_empty=if_empty)
        click.echo(f"demo data: {created} new users" if created else "demo data: already present")

    from portal.finance.commands import finance_cli
    app.cli.add_command(finance_cli)
