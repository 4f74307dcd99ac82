"""The web half: routes, templates and the helpers only pages and the API need."""
