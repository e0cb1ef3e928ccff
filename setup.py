"""What the wheel and sdist hold: the ``dagviz`` and ``runs`` packages, and the web UI's files.

The UI's sources stay in the top-level ``templates/`` and ``static/`` folders of the checkout;
the built package ships them as ``dagviz/server/templates`` and ``dagviz/server/static``,
where the installed settings look for them first (``dagviz.server.settings.ui_folder``).
Everything else about the project is in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

UI_FOLDERS = {"dagviz.server.templates": "templates", "dagviz.server.static": "static"}

setup(
    packages=find_packages(include=["dagviz", "dagviz.*", "runs", "runs.*"]) + list(UI_FOLDERS),
    package_dir=UI_FOLDERS,
    package_data={
        **{package: ["**/*"] for package in UI_FOLDERS},
        "dagviz.examples": ["sample_data/*", "sample_data/**/*"],
    },
    exclude_package_data={"": ["__pycache__/*", "*.pyc"]},
)
