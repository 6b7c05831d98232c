"""Motion synthesis: time-warping phrases onto beats and joining them without pops or skating.

This layer sits between decoding (which phrase goes in which slot) and export; it works on
``Motion`` objects and never imports audio analysis or the CLI.
"""
