"""JupyterHub configuration of the course server: ``jupyterhub -f grading/hub/jupyterhub_config.py`` with
``LABLIB_HUB_STATE`` naming the directory ``python -m grading.hub setup`` laid out (``make hub`` does both).

Demo-fit on one machine: PAM login with each account's initial password (<state>/initial-passwords.csv), the
accounts on the roster only, the instructors as Hub admins; LocalProcessSpawner (each server is a process of
its user's Unix account, so the exchange's file permissions are real). Production swaps (grading/README.md):
the authenticator for the university's (``oauthenticator.generic.GenericOAuthenticator`` for OpenID Connect /
SAML-via-OIDC, or ``ltiauthenticator.lti13.authenticator.LTI13Authenticator`` from the LMS), HTTPS in front,
and Zero-to-JupyterHub (KubeSpawner) for hundreds of students.
"""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from grading.hub.course import Settings  # noqa: E402
from grading.hub.servers import formgrader_service  # noqa: E402
from grading.hub.spawner import CourseSpawner  # noqa: E402

c = get_config()  # noqa: F821
settings = Settings.load(os.environ["LABLIB_HUB_STATE"])
state = settings.path("hub")

# Where: the proxy listens on the public address; the Hub, the proxy's API and the services on loopback.
c.JupyterHub.ip = settings.ip
c.JupyterHub.port = settings.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings.hub_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [settings.proxy]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.ConfigurableHTTPProxy.debug = False
# The Hub's state, all in <state>/hub (root 0700): database, cookie secret, the proxy's token.
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
token_file = state / "proxy_token"
if not token_file.exists():
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(os.urandom(32).hex())
c.ConfigurableHTTPProxy.auth_token = token_file.read_text().strip()
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# Who: the roster's accounts, logging in with their Unix password (PAM).
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False      # no login session (utmp, pam_systemd) per server
c.Authenticator.allowed_users = set(settings.students + settings.graders)
c.Authenticator.admin_users = set(settings.instructors)
c.JupyterHub.load_groups = {"students": {"users": settings.students}, "graders": {"users": settings.graders}}
c.JupyterHub.load_roles = [
    # every user may share their own server (pairs: python -m grading.hub.pair) and see with whom
    {"name": "user", "scopes": ["self", "shares!user", "read:shares!user"]},
    # instructors and TAs open formgrader, the grader account's server
    {"name": "graders", "groups": ["graders"], "scopes": ["access:services!service=formgrader"]},
    # the grader account reads the shares to register pairs (grading.hub.pair.register_pairs)
    {"name": "formgrader-service", "services": ["formgrader"], "scopes": ["read:shares", "list:users", "read:users:name"]},
]

# The servers: JupyterLab as each user's account, configured by kind (grading/hub/servers.py).
c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(Path(settings.python).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {"LABLIB_HUB_STATE": settings.state,
                         "PATH": f"{Path(settings.python).parent}:/usr/local/bin:/usr/bin:/bin",
                         "PYTHONPATH": str(REPO)}  # python -m grading.hub.pair, the exchange classes
# a server's token may create share codes for its own server and read its shares (PARTNER on submit)
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", "shares!user", "read:shares!user"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.services = [formgrader_service(settings)]
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
