"""Job matches pushed to residents' phones by SMS, only with their consent (issue 27).

:mod:`hub.push.smpp` the SMPP 3.4 PDUs and an ESME client, :mod:`hub.push.smsc` a local
SMSC for training and tests, :mod:`hub.push.senders` the pluggable senders (SMPP, an HTTP
gateway), :mod:`hub.push.queue` the durable queue and its rules (consent, 退订, the weekly
cap, no messages at night, purged registrations never pushed).
"""
