"""Slips on ESC/POS thermal printers: layouts for 58/80 mm paper, encoding, status, a durable
print queue, a preview renderer (ESC/POS bytes -> PNG) and a virtual network printer.

Where to start:

- :mod:`printer.slips` - ``job_slip``, ``receipt_slip``, ``event_slip``, ``test_slip`` -> ``Slip``
- :mod:`printer.queue` - ``PrintQueue`` (table ``print_jobs``) and ``PrintService`` (the worker)
- :mod:`printer.status` / :mod:`printer.connections` - ``DLE EOT`` status, opening printers
- :mod:`printer.preview` - ``render(data, dots) -> (image, report)``
- :mod:`printer.virtual` - ``VirtualPrinter`` on loopback
- :mod:`printer.profiles` (data in ``profiles.json``), :mod:`printer.text`, :mod:`printer.escpos`
"""
