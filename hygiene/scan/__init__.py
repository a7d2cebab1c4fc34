"""The scan stage: walk the root, read each file once, decode once, hash and measure."""
