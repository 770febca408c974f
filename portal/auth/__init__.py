"""Authentication: users, tokens, revocation, the caller as a principal."""
