"""widgets of the main window."""
