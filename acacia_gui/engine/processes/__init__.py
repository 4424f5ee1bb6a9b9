"""Handlers in supervised worker processes: the child's main loop, the app's handle on a
child, the pipe messages between them, and the pool that gives each slot its process."""
