"""The alert-windows specs oncall ships (Sloth's `AlertWindows` documents, one a file)."""
