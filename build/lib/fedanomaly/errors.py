"""The one exception type that the command line turns into a one-line error and exit code 2."""


class InputError(Exception):
    """Bad user input: a file, a YAML path, a data source, a monitor or an option.

    The message is shown to the user as is, on one line, so it names what is wrong and where
    (the file, the YAML path or the monitor) and the bad value.
    """
