"""Connect a running ``slant serve`` to a Label Studio project, with its credentials.

Label Studio 1.23.2 sends Basic Auth on the calls its ML connector makes (``/health``,
``/setup``, ``/predict``, ``/train``, the ``START_TRAINING`` webhook) when the backend is
created with ``auth_method="BASIC_AUTH"``. The annotation webhooks (``ANNOTATION_CREATED``,
...) go through Label Studio's webhook system instead, which sends only the webhook's own
``headers``: so the webhook it creates for ``<url>/webhook`` gets the ``Authorization`` header
too. Without it, annotation events would be refused by the backend (401) and never count
towards a retraining.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def connect_to_project(conn: Any, *, project_id: int, url: str, credentials: Any, title: str = "slant") -> int:
    """Add the backend at ``url`` to ``project_id`` with Basic Auth; return the ML backend id.

    ``conn``: :class:`annotate.labelstudio.connection.Connection`; ``credentials``:
    :class:`models.backend.auth.Credentials`. Raises
    :class:`annotate.labelstudio.connection.LabelStudioAPIError` when Label Studio refuses
    (e.g. the backend does not answer, or refuses the credentials: the message is Label
    Studio's, redacted).
    """
    made = conn.request("POST", "/api/ml", what=f"connecting the ML backend {url} to project {project_id}", json={
        "url": url, "project": project_id, "title": title, "is_interactive": False,
        "auth_method": "BASIC_AUTH", "basic_auth_user": credentials.username,
        "basic_auth_pass": credentials.password,
    }).json()
    hook_url = url.rstrip("/") + "/webhook"
    hooks = conn.request("GET", "/api/webhooks", params={"project": project_id},
                         what=f"listing the webhooks of project {project_id}").json()
    for hook in hooks:
        if hook.get("url") == hook_url:
            headers = {**(hook.get("headers") or {}), "Authorization": credentials.header()}
            conn.request("PATCH", f"/api/webhooks/{hook['id']}/", json={"headers": headers},
                         what=f"adding the backend's credentials to webhook {hook['id']}")
            break
    else:
        log.warning("project %d has no webhook for %s: annotation events will not reach the backend", project_id,
                    hook_url)
    return int(made["id"])
