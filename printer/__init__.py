"""Slips on ESC/POS thermal printers: layouts for 58/80 mm paper, encoding, status, a durable
print queue, a preview renderer (ESC/POS bytes -> PNG) and a virtual network printer."""
