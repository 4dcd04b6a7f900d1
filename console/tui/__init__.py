"""The Textual console: a table of chargers, their detail and frames, and keys to act on them."""
