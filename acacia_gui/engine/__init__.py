"""The Qt-free engine: the scheduler (slots, claim-ahead, group commit, watchdog, recovery)
and the supervision of handler worker processes. `qt/worker.py` adapts it to Qt's
QThreadPool and timers; unit tests drive it with the plain `ManualLoop`."""
