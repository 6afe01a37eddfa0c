"""The Hub's spawner (imported by jupyterhub_config.py only: it needs jupyterhub, the course server's environment)."""
from __future__ import annotations

import os

from jupyterhub.spawner import LocalProcessSpawner

from .course import Settings
from .servers import config_path, kind_of


class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner (each server runs as its user's Unix account) with the configuration of the user's
    kind of server."""

    def get_env(self):
        env = super().get_env()
        settings = Settings.load(os.environ["LABLIB_HUB_STATE"])
        env["JUPYTER_CONFIG_PATH"] = config_path(settings, kind_of(settings, self.user.name))
        return env
