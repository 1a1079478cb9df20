"""The simulated reader, in parts: the reply logic (:mod:`.model`, frames in, frames out, faults
as data), an in-process serial port for it (:mod:`.protocol_yizhansim`, ``yizhansim://``), the
pseudo-terminal transport (:mod:`.pty`) and the text control server (:mod:`.control`).
:class:`idcard.simulator.Simulator` puts them together for ``yizhan idcard simulate``.
"""
