"""The e2e test is skipped unless its requirements are met; always say why."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Like `-rs`: print skip reasons in the short summary even with `-q`.
    if "s" not in config.option.reportchars and "a" not in config.option.reportchars:
        config.option.reportchars += "s"
