"""delegates of the main window."""
