"""QtCore/QtNetwork only: the worker pool, the event bridge, the local-socket server."""
