"""WSGI entry point: `flask --app wsgi run`, gunicorn wsgi:app."""

from growth import create_app

app = create_app()
