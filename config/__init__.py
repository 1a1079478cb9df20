"""Station settings and the composition root.

Owns the settings schema and loading (``config.settings``), CJK font discovery
(``common.fonts``), personal-data masking (``common.privacy``), the ``yizhan`` command
line (``config.cli``), the station health check (``config.doctor``) and the demo
(``config.demo``). Everything else in Yizhan depends on this package; it depends on none.
"""
