"""Models of the billing domain."""
