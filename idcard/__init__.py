"""Resident ID card readers: the GA/T 467 serial protocol, card parsing and validation,
a polling reader service, and a byte-exact simulator on a pseudo-terminal.

Modules, from the wire up:

- :mod:`idcard.frames` - frame encoding, strict and streaming decoding (resync on the preamble);
- :mod:`idcard.status` - what each SW3 status means (English for logs, Chinese for residents);
- :mod:`idcard.protocol` - the commands and :class:`~idcard.protocol.Reader`, a client over an open port;
- :mod:`idcard.idnumber` - GB 11643 identity numbers (``validate``, ``is_valid``, ``mask``...);
- :mod:`idcard.card` - the 256-byte text block (resident card, J, I, Y) and
  :class:`~idcard.card.IdentityCard`, whose repr, str and JSON are masked;
- :mod:`idcard.photo` - the optional vendor WLT photo decoder (ctypes);
- :mod:`idcard.service` - :class:`~idcard.service.ReaderService`, the polling thread and its events;
- :mod:`idcard.simulator` - the virtual reader used by tests, the demo and staff training;
- :mod:`idcard.cli` - ``yizhan idcard read | status | simulate``.

A screen uses the service: ``station.reader_service(on_event=callback).start()`` (config.station);
the callback runs on the service thread, so a Kivy app hops each event onto its clock.
"""
