"""Slant's stance models: classifiers, training, evaluation, prediction and the ML backend.

Heavy libraries (torch, transformers) are imported inside functions, never at import time.
"""
