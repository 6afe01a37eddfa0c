"""The repository's promises: environment.yml lists what pyproject.toml lists, CI runs the
README's test command, and the README gives exactly two set-up commands."""
import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _requirement(spec: str) -> tuple[str, str]:
    """'nbgrader>=0.9.6,<0.10' -> ('nbgrader', '>=0.9.6,<0.10'); environment markers dropped."""
    spec = spec.split(";")[0].strip()
    name, version = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec).groups()
    return name.lower().replace("_", "-"), version.replace(" ", "")


def test_environment_yml_lists_the_pyproject_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_requirement(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"]
                  if ";" not in s or "python_version < '3.11'" not in s)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_requirement(s) for s in env["dependencies"] if isinstance(s, str))
    python = conda.pop("python")
    assert python == ">=" + project["requires-python"].lstrip(">=")
    conda.pop("pip")
    assert conda == wanted
    pip_section = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_section == [{"pip": ["--editable ."]}]


def _readme_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_readme_gives_two_commands_demo_and_test():
    assert _readme_commands() == ["make demo", "make test"]


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
                and not line.startswith(("set ", "cd "))]
    assert commands == [_readme_commands()[1]]


def test_package_data_ships_the_mini_subset():
    import lablib.data  # noqa: F401  (import proves the package resolves from the install)

    data_dir = Path(lablib.data.__file__).parent / "_data"
    assert list(data_dir.glob("*.npz")), "the bundled Fashion-MNIST subset is missing from lablib/_data"
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "_data/*.npz" in config["tool"]["setuptools"]["package-data"]["lablib"]
