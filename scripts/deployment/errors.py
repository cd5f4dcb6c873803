class DeploymentError(Exception):
    """An expected problem with the user's files or options: one line, no traceback."""
