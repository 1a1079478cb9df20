"""The feed contract both sides import: records, manifests, signatures, release offers and trust."""
