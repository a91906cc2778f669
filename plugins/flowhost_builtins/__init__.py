"""flowhost's built-in node and connection types.

They are ordinary plugins: each module is registered through the ``flowhost`` entry-point group, exactly as a
third-party distribution's would be, and uses only the public plugin API (``flowhost`` and its hooks).
"""
