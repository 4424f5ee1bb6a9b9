"""The window's Schedules view: a table model of the stored schedules, the page that shows them
with its actions, and the add/edit dialog (issue 13)."""
