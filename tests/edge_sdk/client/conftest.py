"""Fixtures for the device-client tests."""

from __future__ import annotations

import pytest

from tests.support.certs import ServerCert, issue_server_cert


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ServerCert:
    """A CA and a certificate it signed for 127.0.0.1 and localhost."""
    return issue_server_cert(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def rogue_pki(tmp_path_factory: pytest.TempPathFactory) -> ServerCert:
    """Another CA and certificate: what a man in the middle would present."""
    return issue_server_cert(tmp_path_factory.mktemp("rogue"))
