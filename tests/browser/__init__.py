"""Browser tests. A package, so that its conftest does not take the name ``conftest``
that the other test folders import the shared helpers by."""
