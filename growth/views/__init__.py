"""Blueprints of the growth core: public pages, the JSON API, the operator pages."""
