"""dialogs of the main window."""
