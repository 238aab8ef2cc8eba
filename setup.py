"""Maps the top-level folders onto the ``notewell.*`` import packages.

pyproject.toml holds all metadata; this file only exists because setuptools cannot
discover sub-packages under a per-package ``package-dir`` mapping declaratively.
"""

from setuptools import find_packages, setup

ROOTS = {
    "notewell.kernel": "kernel",
    "notewell.plugins": "plugins",
    "notewell.pipelines": "pipelines",
    "notewell.testing": "testing",
}

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    subpackages = find_packages(folder, exclude=["*.tests", "*.tests.*"])
    packages.extend(f"{name}.{sub}" for sub in subpackages)

setup(package_dir=ROOTS, packages=packages)
