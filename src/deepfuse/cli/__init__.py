"""The ``deepfuse`` command line: thin verbs (parse, call :mod:`deepfuse.api`, print).

Example:
    >>> from deepfuse.cli.main import build_parser
    >>> build_parser().parse_args(["info", "runs/x"]).verb
    'info'
"""
