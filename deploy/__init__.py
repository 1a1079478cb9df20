"""Station operations: what installs Yizhan on a real box and keeps it running for months.

``deploy.lock`` (the hashed dependency lock), ``deploy.release`` (signed offline bundles),
``deploy.install`` (``yizhan install``: service user, directories, releases, units),
``deploy.upgrade`` (releases through the feed, switch and automatic rollback),
``deploy.screens`` (screens off outside opening hours over HDMI-CEC or DPMS),
``deploy.watchdog`` (systemd ``sd_notify`` pings), ``deploy.logs`` (rate-limited logging)
and ``deploy/station/`` (systemd units, udev rules, the kiosk session). The hub's own
deployment lives in ``deploy/hub/``.

``deploy.lock`` must import nothing outside the standard library: ``make setup`` runs it
with the system Python before any virtualenv exists.
"""
