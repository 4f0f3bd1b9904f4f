"""Subcommands of `pipeline_runner.py`: each module has `main(argv) -> exit status`."""
