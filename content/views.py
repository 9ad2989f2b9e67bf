"""HTTP views of the content domain."""

from flask import Blueprint

bp = Blueprint("content", __name__)
