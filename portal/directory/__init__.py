"""Directory: landlords, properties, tenancies and contractor firms."""
