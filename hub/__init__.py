"""The reference central server ("hub") of the feed.

It builds and signs feeds from a source folder (``publish``), serves them with conditional
GET and byte ranges, and accepts the stations' uploads (registrations, usage events, proof
of play, heartbeats), idempotent by key, with a read-only status page (``app``,
``storage``). Uploads are checked from their headers before a body is read (``limits``);
registrations are sealed at rest (``vault``). ``yizhan hub ...`` is its command line (``cli``). A province's own platform
can replace it by following ``content/PROTOCOL.md``.
"""
