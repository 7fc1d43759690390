"""Base maps: the configured layers (``config``), the local tile packages GridOps serves (``packages``,
``views``), and the commands that check the configuration and make packages for the phone (``cli``)."""
