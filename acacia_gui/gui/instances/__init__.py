"""The Instances tab: the live app instances on this database, their heartbeats and running jobs."""
