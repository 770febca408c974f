"""Photos and files attached to tickets: checked from their content, stored behind a small
storage interface, served only to those who see the ticket."""
