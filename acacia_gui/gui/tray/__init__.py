"""tray of the main window."""
