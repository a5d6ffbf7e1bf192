"""Device drivers: encoder boards and cameras."""
