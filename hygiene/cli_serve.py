"""`hygiene serve`: the local app over one run (search, the 3D cloud), bound to this machine's
loopback address only. Registered on the `hygiene` group by cli.py; the app lives in
hygiene.serve."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import click

from hygiene.catalog import CATALOG_HELP
from hygiene.cli_search import model_for, model_options, run_folder
from hygiene.console import err_console, fail, load_config_file
from hygiene.search import SearchError, open_library


@click.command("serve")
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option(
    "--root", type=click.Path(path_type=Path), help="Serve the latest run of this archive."
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port (0: any free one).")
@model_options
@click.option("--catalog", help=CATALOG_HELP)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def serve_command(
    run_dir: Path | None,
    root: Path | None,
    port: int,
    model: str | None,
    model_path: Path | None,
    device: str | None,
    allow_download: bool,
    catalog: str | None,
    config_file: Path | None,
) -> None:
    """Open a run in a local web app: search by phrase or image, more like this, 3D cloud."""
    import uvicorn

    from hygiene.serve import Session, make_app

    config = load_config_file(config_file)
    try:
        library = open_library(run_folder(run_dir, root, config), catalog, config.search)
    except SearchError as exc:
        fail(str(exc))
        return
    clip = model_for(library, config, model, model_path, device, allow_download)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))  # loopback only: nothing off this machine can connect
        listener.listen(128)  # connections wait in the backlog until the server takes them
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}")
        return
    port = listener.getsockname()[1]
    token = secrets.token_urlsafe(24)
    app = make_app(Session(library, clip, config), token, port)
    # the first line is the URL: scripts and tests read it
    click.echo(f"http://127.0.0.1:{port}/?token={token}", nl=True)
    err_console.print(
        f"serving {len(library.photos):,} photos of {library.root} (Ctrl-C stops)",
        highlight=False,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
