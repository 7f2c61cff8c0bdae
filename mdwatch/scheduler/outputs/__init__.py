"""Outputs: what users read (the terminal, reports, notifications, the precision guard's
warnings), with the labels and the display time zone defined once."""
