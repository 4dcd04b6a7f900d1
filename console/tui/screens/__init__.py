"""Full screens of the console."""
