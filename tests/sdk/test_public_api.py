"""The SDK's public names are exactly ``__all__``, sorted, and each is importable."""

import preference_sdk


def test_public_names_are_exactly_all() -> None:
    public = {name for name in vars(preference_sdk) if not name.startswith("_")}
    public -= {"sinks"}  # the subpackage, once imported
    assert public == set(preference_sdk.__all__)
    assert list(preference_sdk.__all__) == sorted(preference_sdk.__all__, key=str)


def test_the_sdk_needs_only_httpx_and_itsdangerous() -> None:
    from importlib import metadata

    required = [r for r in metadata.requires("preference-sdk") or [] if "extra ==" not in r]
    assert sorted(r.split(">")[0].split("=")[0].strip() for r in required) == ["httpx", "itsdangerous"]
