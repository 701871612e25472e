"""``para config show``: the merged configuration and where each value came from."""

from __future__ import annotations

import json

import click

from para.cli import render
from para.cli.common import app_of


@click.group()
def config() -> None:
    """Inspect para's configuration."""


@config.command()
@click.option("--json", "as_json", is_flag=True, help="Print values and sources as JSON.")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print the merged configuration; each value with the layer it came from."""
    from para.config import flatten
    from para.imagesource import image_source

    app = app_of(ctx)
    loaded = app.loaded_config
    repo = app.repo_or_none()
    image = image_source(loaded, repo.root if repo else None, repo.root if repo else app.cwd)
    if as_json:
        render.echo_json(
            {
                "values": loaded.values,
                "sources": loaded.sources,
                "files": [str(path) for path in loaded.files],
                "ignored": {str(path): keys for path, keys in loaded.ignored.items()},
                "image": {"kind": image.kind, "image": image.image, "source": image.origin},
            }
        )
        return
    flat = flatten(loaded.values)
    width = max(len(key) for key in flat)
    for key, value in flat.items():
        source = loaded.sources.get(key, "default")
        click.echo(f"{key:<{width}}  {json.dumps(value):<30}  ({source})")
    for path, keys in loaded.ignored.items():
        click.echo(f"ignored until trusted (para trust): {path}: {', '.join(keys)}")
    click.echo(f"image of new containers: {image.describe()}")
