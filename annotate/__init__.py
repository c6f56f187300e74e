"""Slant's light side: corpus ingestion, Label Studio round trip, agreement, datasets and reports.

Never imports torch or :mod:`models`; importing it is cheap.
"""
