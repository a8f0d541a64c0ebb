"""ipywidgets front ends: the prompt browser, live judging and the analysis dashboard.

Widgets only lay out controls and call the package's tested functions; they hold no logic of
their own that a test could not reach through those functions.

May import every stage (they are on top, with ``cli``); nothing in the package imports them.
"""
