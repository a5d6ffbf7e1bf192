"""One module per subcommand. Each defines `register(subparsers)`; `apps.cli.main` discovers them, so a
new subcommand is a new file here and nothing else. Heavy imports belong inside the handlers."""
