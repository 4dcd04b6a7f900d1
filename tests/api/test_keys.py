"""API keys in the core: shown once, stored hashed, verified, revoked at once, listed."""

from __future__ import annotations

from console.core.keys import KEY_PREFIX, hash_key
from console.core.models import ApiKey
from console.core.service import ConsoleService


async def test_a_key_is_stored_only_as_its_hash(service: ConsoleService) -> None:
    view, key = await service.create_api_key("acme", label="ci")
    assert key.startswith(KEY_PREFIX) and len(key) > 40
    row = await service.store.run(lambda session: session.get(ApiKey, view.id))
    assert row.key_hash == hash_key(key) and key not in row.model_dump_json()
    assert view.organization == "acme" and view.prefix == key[: len(view.prefix)]


async def test_verify_finds_the_organization_and_refuses_wrong_and_revoked_keys(service: ConsoleService) -> None:
    view, key = await service.create_api_key("acme")
    found = await service.authenticate(key)
    assert found is not None and found.organization == "acme" and found.organization_id == "org-acme"
    assert await service.authenticate(key + "x") is None
    assert await service.authenticate("") is None
    await service.revoke_api_key(view.id)
    assert await service.authenticate(key) is None
    (listed,) = await service.list_api_keys()
    assert listed.id == view.id and listed.revoked_at is not None
