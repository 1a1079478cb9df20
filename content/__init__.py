"""Everything that is data.

The content model (``protocol.model``), the station store and search (``content.store``),
the signed feed format and sync client, the media cache, the outbox for uploads, and the
reference central server (``hub``).
"""
