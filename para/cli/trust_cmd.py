"""``para trust``: apply the settings a repository's committed configuration makes."""

from __future__ import annotations

import click

from para.cli import render
from para.cli.common import app_of


@click.command()
@click.option("--show", is_flag=True, help="Only show what is trusted and what waits.")
@click.option("--revoke", is_flag=True, help="Forget this repository's trust.")
@click.option("--json", "as_json", is_flag=True, help="Print the files as JSON.")
@click.pass_context
def trust(ctx: click.Context, show: bool, revoke: bool, as_json: bool) -> None:
    """Trust this repository's committed .para/config.json and .para/docker.json.

    Until then, their settings that run code on this machine or widen what a container
    may reach (setup_command, ide.command, agent.command, docker volumes, host network,
    user, forward_env, host, resources: null, PATH, a worktrees_dir outside the
    repository) are ignored. Trust covers the files as they are now: any change needs
    para trust again.
    """
    from para import trust as trusting

    app = app_of(ctx)
    root, env = app.repo.root, app.env
    if show and revoke:
        raise click.UsageError("--show and --revoke do not go together")
    if revoke:
        trusting.revoke(root, env)
        click.echo(f"forgot the trust in {root}'s configuration")
        return
    files = trusting.review(root, env) if show else trusting.grant(root, env)
    if as_json:
        render.echo_json(files)
        return
    if not files:
        click.echo("this repository has no .para/config.json or .para/docker.json")
    for item in files:
        keys = ", ".join(item["keys"]) or "no settings that need trust"
        if not item["tracked"]:
            state = "yours (not committed): always applies"
        elif item["trusted"]:
            state = "trusted"
        else:
            state = "changed since you trusted it" if item["changed"] else "not trusted"
        click.echo(f"{item['file']}: {state} ({keys})")
