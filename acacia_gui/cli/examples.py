"""The examples each `acacia CMD --help` ends with (its argparse epilog).

One place, so a new command gets its example here; tests/unit/test_cli_help.py fails for
a command without one.
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "acacia": (
        "acacia                                 # the window",
        "acacia serve                           # headless",
        "acacia enqueue demo.sleep --payload '{\"seconds\": 5}' --wait",
        "acacia help enqueue                    # one command's options",
    ),
    "serve": ("acacia serve", "acacia serve --workers 4 --stop-timeout 30",
              "acacia serve --database postgresql://acacia@db.example/acacia   # share one queue between machines"),
    "enqueue": (
        "acacia enqueue demo.sleep --payload '{\"seconds\": 5}'",
        "acacia enqueue render.frame --payload '{\"frame\": 12}' --queue gpu --priority 5 --wait",
        "acacia enqueue --batch jobs.jsonl     # one JSON object a line",
        "acacia enqueue video.encode --after 41,42   # waits until jobs 41 and 42 succeeded",
        "acacia enqueue backup.home --unique-key nightly --on-conflict reject",
        "acacia enqueue --batch pipeline.jsonl   # lines with \"ref\": \"dl\" and \"after\": [\"dl\", 42]: a pipeline",
    ),
    "list": ("acacia list --state failed", "acacia list --queue gpu --sort created_at --desc --limit 20 --json",
             "acacia list --stalled"),
    "show": ("acacia show 42", "acacia show 42 --logs 200 --json"),
    "info": ("acacia info", "acacia info --json"),
    "db": ("acacia db check", "acacia db check --full", "acacia db recover ~/acacia-recovered.db   # app stopped",
           "acacia db migrate --database postgresql://acacia@db.example/acacia   # create or upgrade the schema"),
    "instances": ("acacia instances --database postgresql://acacia@db.example/acacia", "acacia instances --json"),
    "handlers": ("acacia handlers", "acacia handlers --names      # job types of the running app, one a line"),
    "cancel": ("acacia cancel 42", "acacia cancel 42 43 44"),
    "kill": ("acacia kill 42   # its worker process is killed now, no grace period",),
    "extend": ("acacia extend 42   # a stalled job: wait another stall_after before flagging it again",),
    "retry": ("acacia retry 42", "acacia retry $(acacia list --state failed --json | jq '.jobs[].id')",
              "acacia retry 42 --with-dependents   # and the jobs its failure cancelled"),
    "why": ("acacia why 42", "acacia why 42 --json"),
    "edit": ("acacia edit 42 --priority 10", "acacia edit 42 --queue gpu --front",
             "acacia edit 42 --payload '{\"frame\": 13}'"),
    "delete": ("acacia delete 42 43", "acacia delete --finished --queue gpu", "acacia delete 42 --outputs",
               "acacia delete --finished --older-than 7d --state succeeded,cancelled"),
    "open": ("acacia open 42",),
    "pause": ("acacia pause gpu", "acacia pause nightly --create   # a queue that has no jobs yet"),
    "resume": ("acacia resume gpu",),
    "concurrency": ("acacia concurrency gpu 1", "acacia concurrency gpu 0       # no limit",
                    "acacia concurrency --workers 4", "acacia concurrency api --rate 30/h",
                    "acacia concurrency api --rate none   # no rate"),
    "watch": ("acacia watch", "acacia watch 42", "acacia watch --queue gpu"),
    "logs": ("acacia logs 42", "acacia logs 42 -f      # follow until it ends; exit 0 if it succeeded"),
    "stats": ("acacia stats", "acacia stats --json"),
    "completion": (
        "acacia completion bash > ~/.local/share/bash-completion/completions/acacia",
        "acacia completion zsh > ~/.zfunc/_acacia",
        "acacia completion fish > ~/.config/fish/completions/acacia.fish",
    ),
    "autostart": ("acacia autostart enable          # the window, at login",
                  "acacia autostart enable --serve  # headless, as a systemd user service",
                  "acacia autostart status", "acacia autostart disable"),
    "help": ("acacia help", "acacia help enqueue"),
    "schedule": (
        "acacia schedule add tick demo.sleep --payload '{\"seconds\": 1}' --every 10m",
        "acacia schedule add nightly backup.home --cron \"0 3 * * *\" --timezone Europe/Paris --catch-up skip",
        "acacia schedule list",
        "acacia schedule show nightly",
        "acacia schedule run-now nightly   # prints the job id",
        "acacia schedule pause nightly     # and: resume, remove, edit",
    ),
    "schedule add": (
        "acacia schedule add tick demo.sleep --payload '{\"seconds\": 1}' --every 10m",
        "acacia schedule add nightly backup.home --cron \"0 3 * * *\" --timezone Europe/Paris",
        "acacia schedule add hourly report.build --cron \"0 * * * *\" --catch-up all --max-backlog 24",
    ),
    "schedule list": ("acacia schedule list", "acacia schedule list --json"),
    "schedule show": ("acacia schedule show nightly", "acacia schedule show nightly --json"),
    "schedule edit": ("acacia schedule edit nightly --cron \"30 2 * * *\"",
                      "acacia schedule edit tick --every 5m --catch-up skip"),
    "schedule remove": ("acacia schedule remove nightly   # the jobs it enqueued stay",),
    "schedule pause": ("acacia schedule pause nightly",),
    "schedule resume": ("acacia schedule resume nightly   # from its next run after now",),
    "schedule run-now": ("acacia schedule run-now nightly   # prints the job id",),
}


def epilog(name: str) -> str | None:
    """'examples:' and the command's examples, indented; None if it has none."""
    lines = EXAMPLES.get(name)
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else None
