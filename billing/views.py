"""HTTP views of the billing domain."""

from flask import Blueprint

bp = Blueprint("billing", __name__)
