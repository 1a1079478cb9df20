"""Resident ID card readers: the GA/T 467 serial protocol, card parsing and validation,
a polling reader service, and a byte-exact simulator on a pseudo-terminal."""
