"""The Kivy touchscreen app residents use, with a PIN-protected staff mode.

Plain Python (no window needed): ``theme`` (type scales, colours, the MIIT rules), ``session``
(the resident's visit), ``idle`` (countdown arithmetic), ``forms`` (the four registrations),
``jobquery`` (search state), ``status`` (what devices and content say), ``tts`` (read aloud),
``services`` (store, reader, printer, sync built from the settings).
Kivy: ``boot`` (window set-up), ``app`` (navigation, devices, idle reset), ``style``,
``widgets/`` and ``screens/`` (one screen and one .kv file each), ``driver`` (taps from code),
``harness`` (a kiosk on loopback with simulated devices), ``demo`` (the scripted tour), ``cli``.
"""
