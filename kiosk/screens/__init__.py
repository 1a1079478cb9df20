"""The kiosk's screens, one module (and one .kv file) each.

``SCREENS`` lists them in the order they are built: (name, module, class).
"""

from __future__ import annotations

SCREENS: tuple[tuple[str, str, str], ...] = (
    ("home", "kiosk.screens.home", "HomeScreen"),
    ("jobs", "kiosk.screens.jobs", "JobsScreen"),
    ("job", "kiosk.screens.job_detail", "JobDetailScreen"),
    ("resident", "kiosk.screens.resident", "ResidentScreen"),
    ("register", "kiosk.screens.register", "RegisterScreen"),
    ("form", "kiosk.screens.form", "FormScreen"),
    ("consent", "kiosk.screens.consent", "ConsentScreen"),
    ("done", "kiosk.screens.done", "DoneScreen"),
    ("policies", "kiosk.screens.policies", "PoliciesScreen"),
    ("policy", "kiosk.screens.policy_detail", "PolicyDetailScreen"),
    ("courses", "kiosk.screens.courses", "CoursesScreen"),
    ("player", "kiosk.screens.player", "PlayerScreen"),
    ("events", "kiosk.screens.events", "EventsScreen"),
    ("staff_pin", "kiosk.screens.staff_pin", "StaffPinScreen"),
    ("staff", "kiosk.screens.staff", "StaffScreen"),
)
