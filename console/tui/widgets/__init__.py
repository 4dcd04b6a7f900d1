"""The main screen's widgets, one role each."""
