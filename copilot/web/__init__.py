"""The web layer: JSON API, agent sidebar, lead queue and admin pages (blueprints)."""
