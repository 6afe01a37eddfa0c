"""The repository's promises: environment.yml (instructors: everything) and environment-student.yml (students)
list what pyproject.toml lists, CI runs the README's test command, and the README gives exactly two set-up
commands."""
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
    """'nbgrader>=0.9.6,<0.10' -> ('nbgrader', '>=0.9.6,<0.10'); environment markers dropped, and a pip extra
    ('dask[distributed]'): conda-forge's package of that name is the whole of it."""
    spec = spec.split(";")[0].strip()
    name, version = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[\w,\s]+\])?\s*(.*)$", spec).groups()
    return name.lower().replace("_", "-"), version.replace(" ", "")


def _extra(project: dict, name: str) -> list[str]:
    """An extra's requirements, with the project's own extras it names ("lablib[student]") expanded."""
    specs = []
    for spec in project["optional-dependencies"][name]:
        own = re.match(rf"^{project['name']}\[(\w+)\]$", spec.strip())
        specs += _extra(project, own.group(1)) if own else [spec]
    return specs


def _conda(path: Path) -> dict:
    env = yaml.safe_load(path.read_text())
    conda = dict(_requirement(s) for s in env["dependencies"] if isinstance(s, str))
    conda.pop("pip")
    assert [d for d in env["dependencies"] if isinstance(d, dict)] == [{"pip": ["--editable ."]}]
    return conda


def _wanted(project: dict, *extras: str) -> dict:
    specs = project["dependencies"] + [s for extra in extras for s in _extra(project, extra)]
    return dict(_requirement(s) for s in specs if ";" not in s or "python_version < '3.11'" not in s)


def test_environment_yml_lists_the_pyproject_packages():
    """The instructors' environment: the library, the dev tools and the course server's packages."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda = _conda(ROOT / "environment.yml")
    assert conda.pop("python") == ">=" + project["requires-python"].lstrip(">=")
    assert conda == _wanted(project, "dev", "hub")


def test_student_environment_lists_the_student_extra():
    """The students' environment: the library, JupyterLab, live pairs and the Assignments tab, nothing else."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda = _conda(ROOT / "environment-student.yml")
    assert conda.pop("python") == ">=" + project["requires-python"].lstrip(">=")
    assert conda == _wanted(project, "student")
    assert "jupyterhub" not in conda and "playwright" not in conda


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
