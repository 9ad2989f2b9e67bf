"""WSGI entry point: `flask --app wsgi run`, `flask --app wsgi worker`, gunicorn wsgi:app."""

from growth.app import create_app, freeze_startup_heap

app = create_app()
freeze_startup_heap()
