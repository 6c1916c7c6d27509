"""What a network is: ``Network`` (owns its layers' parameters and buffers), ``Parameter`` and
``Buffer``, the layers, activations and normalization, each family a registry by name."""
