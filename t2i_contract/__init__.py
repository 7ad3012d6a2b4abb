"""t2i-contract: a contract toolkit for the hosted community-models image API (v6).

The distribution installs this one top-level name. Its subpackages are the folders
the repository keeps at its root (``pyproject.toml`` maps each one):

- :mod:`t2i_contract.spec`: the OpenAPI document and everything derived from it;
- :mod:`t2i_contract.mock_server`: an offline mock of the hosted API;
- :mod:`t2i_contract.reference_backend`: real generation on diffusers;
- :mod:`t2i_contract.contract_tests`: checks any implementation from its URL;
- :mod:`t2i_contract.drift`: lint, diff, live drift and a validating proxy.

Nothing is imported here, so ``import t2i_contract.spec`` stays light.
"""
