"""``python -m autograder serve lti ...``: register platforms, rotate the tool's keys, sync rosters, post scores.

    serve lti add-platform DIR --issuer I --client-id C --deployment-id D --auth-url A --token-url T --jwks-url J
    serve lti rotate-keys DIR [--retire]   a new signing key (the old stay published), or unpublish the old
    serve lti sync DIR                     every course's members (NRPS); Learners become students
    serve lti post DIR                     record changed scores and post the due ones (AGS) once
    serve lti config DIR                   Canvas's developer-key JSON
    serve lti registration-url DIR [--hours H]   a one-time URL for the LMS's dynamic registration
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

lti_app = typer.Typer(no_args_is_help=True, help="LTI 1.3: platforms, keys, rosters (NRPS) and scores (AGS).")


def _setup(data_dir: Path) -> None:
    from autograder.service.commands import setup_or_refuse
    from autograder.service.lti import available

    if not available():
        typer.echo("serve: LTI needs django-lti: pip install 'ch3-autograder[serve]'", err=True)
        raise typer.Exit(2)
    setup_or_refuse(data_dir)


@lti_app.command("add-platform")
def add_platform_command(
    data_dir: Path = typer.Argument(..., help="the data folder"),
    issuer: str = typer.Option(..., "--issuer", help="the platform's issuer (iss), e.g. https://canvas.instructure.com"),
    client_id: str = typer.Option(..., "--client-id", help="the tool's client id on the platform"),
    deployment_id: List[str] = typer.Option(..., "--deployment-id", help="a deployment id (repeat for several)"),
    auth_url: str = typer.Option(..., "--auth-url", help="the platform's OIDC authorization endpoint"),
    token_url: str = typer.Option(..., "--token-url", help="the platform's OAuth2 token endpoint"),
    jwks_url: str = typer.Option(..., "--jwks-url", help="the platform's public keys (JWKS)"),
    audience: str = typer.Option("", "--audience", help="the token endpoint's audience, where it is not its URL"),
    name: str = typer.Option("", "--name", help="a name for staff pages"),
):
    """Register an LTI 1.3 platform (or update it) and its deployments."""
    _setup(data_dir)
    from autograder.service.lti.tool import add_platform, base_url

    try:
        registration = add_platform(issuer=issuer, client_id=client_id, deployment_ids=deployment_id,
                                    auth_url=auth_url, token_url=token_url, jwks_url=jwks_url, name=name,
                                    audience=audience)
    except ValueError as exc:
        typer.echo(f"serve: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(f"registered {registration.issuer} (client {registration.client_id}; deployments "
               f"{', '.join(deployment_id)})")
    typer.echo(f"tool: login {base_url()}/lti/login, launch {base_url()}/lti/launch, keys {base_url()}/lti/jwks.json")


@lti_app.command("registration-url")
def registration_url_command(
    data_dir: Path = typer.Argument(..., help="the data folder"),
    hours: float = typer.Option(24.0, "--hours", min=0.1, help="how long the URL stays valid"),
):
    """A one-time URL to paste into the LMS's dynamic registration (Moodle: Tool URL; Canvas: Install by URL)."""
    _setup(data_dir)
    from autograder.service.lti.dynamic import new_invite

    url, invite = new_invite(hours)
    typer.echo(url)
    typer.echo(f"valid once, until {invite.expires:%Y-%m-%d %H:%M} UTC; the platform it registers is listed at "
               "/lti/staff/", err=True)


@lti_app.command("rotate-keys")
def rotate_keys_command(
    data_dir: Path = typer.Argument(..., help="the data folder"),
    retire: bool = typer.Option(False, "--retire", help="unpublish every key but the newest (after the overlap)"),
):
    """Sign with a new key; the old ones stay in the JWKS until --retire."""
    _setup(data_dir)
    from autograder.service.lti.tool import retire_keys, rotate_keys

    if retire:
        typer.echo(f"unpublished {retire_keys()} older key(s)")
        return
    new, old = rotate_keys()
    typer.echo(f"signing with key {new}; still published: {', '.join(str(k) for k in old) or 'none'} "
               "(unpublish them with --retire once the platforms fetched the new key)")


@lti_app.command("sync")
def sync_command(data_dir: Path = typer.Argument(..., help="the data folder")):
    """Pull every course's membership (NRPS) and add its Learners as students."""
    _setup(data_dir)
    from autograder.service.lti.nrps import sync_all

    results = sync_all()
    if not results:
        typer.echo("no course with a memberships service yet (an Instructor launch records it)")
    for context, counts in results:
        typer.echo(f"{context.title or context.id_on_platform}: {counts['members']} member(s), "
                   f"{counts['learners']} learner(s), {counts['added']} new student(s)")


@lti_app.command("post")
def post_command(data_dir: Path = typer.Argument(..., help="the data folder")):
    """Record changed scores and post the due ones once (serve run does this every few seconds)."""
    _setup(data_dir)
    from autograder.service.lti.models import ScorePost
    from autograder.service.lti.outbox import collect, deliver

    added = collect()
    counts = deliver()
    pending = ScorePost.objects.filter(status=ScorePost.Status.PENDING).count()
    typer.echo(f"{added} new score(s); sent {counts['sent']}, retry later {counts['retry']}, "
               f"failed {counts['failed']}; {pending} pending")


@lti_app.command("config")
def config_command(data_dir: Path = typer.Argument(..., help="the data folder")):
    """Print the tool's configuration as Canvas's developer-key JSON (also at /lti/config.json)."""
    _setup(data_dir)
    from autograder.service.lti.tool import canvas_config

    typer.echo(json.dumps(canvas_config(), indent=2))
