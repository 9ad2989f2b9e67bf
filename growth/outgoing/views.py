"""The blueprints of outgoing webhooks and the role of each endpoint (all admins')."""

from growth.outgoing.admin import bp as admin_bp
from growth.outgoing.api import bp as api_bp

ROLES = {
    "webhooks_api.event_types": "admin",
    "webhooks_api.create_endpoint": "admin",
    "webhooks_api.list_endpoints": "admin",
    "webhooks_api.get_endpoint": "admin",
    "webhooks_api.update_endpoint": "admin",
    "webhooks_api.delete_endpoint": "admin",
    "webhooks_api.rotate_secret": "admin",
    "webhooks_api.deliveries": "admin",
    "webhooks_api.resend": "admin",
    "webhooks_api.send_test": "admin",
    "webhooks_admin.endpoints": "admin",
    "webhooks_admin.create": "admin",
    "webhooks_admin.endpoint": "admin",
    "webhooks_admin.update": "admin",
    "webhooks_admin.rotate": "admin",
    "webhooks_admin.delete": "admin",
    "webhooks_admin.test": "admin",
    "webhooks_admin.resend": "admin",
}

__all__ = ["ROLES", "admin_bp", "api_bp"]
