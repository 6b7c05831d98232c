"""mdtool: the command-line shell over the musicdance SDK."""
