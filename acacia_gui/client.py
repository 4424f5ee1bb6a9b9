"""The Python client of a running Acacia (standard library only, no Qt).

    from acacia_gui.client import Client

    with Client.for_data_dir() as client:
        job_id = client.enqueue("demo.sleep", {"seconds": 1})
        client.schedule_add("nightly", "backup.home", {"dest": "/mnt"}, cron="0 3 * * *", catch_up="skip")
"""

from .ipc.client import Client, LocalClient, WatchStream, probe

__all__ = ["Client", "LocalClient", "WatchStream", "probe"]
