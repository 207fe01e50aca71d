"""release-train: the workflows of the example worker image (examples/worker-image)."""
