"""Fault injection across the package: bad files, hostile archives, misbehaving servers, offline."""
