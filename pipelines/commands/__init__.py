"""The CLI's command groups, one module each: each exports ``add_commands(subparsers)``, which adds its
subcommands and returns {command name: handler}. A handler takes the parsed arguments (Beam's own
options, which only ``run`` accepts, are in ``args.beam_args``) and returns the exit code."""
